package postgres

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/internal/pgtest"
)

// A server that cannot be reached, and a read-only transaction, are
// outages; a bad statement is not.
func TestConnectionAndReadOnlyErrorsAreOutages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // nothing listens there now
	_, cerr := pgx.Connect(ctx, "postgres://root@"+addr+"/x?connect_timeout=5")
	if cerr == nil || !errors.Is(classify(cerr), eventstore.ErrUnavailable) {
		t.Fatalf("connection refused (%v) is not an outage", cerr)
	}

	conn, err := pgx.Connect(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE t (x int)`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `SET default_transaction_read_only = on`); err != nil {
		t.Fatal(err)
	}
	_, werr := conn.Exec(ctx, `INSERT INTO t VALUES (1)`)
	if werr == nil || !errors.Is(classify(werr), eventstore.ErrUnavailable) {
		t.Fatalf("a read-only server's refusal (%v) is not an outage", werr)
	}
	_, serr := conn.Exec(ctx, `SELECT nope FROM t`)
	if serr == nil || errors.Is(classify(serr), eventstore.ErrUnavailable) {
		t.Fatalf("a bad statement (%v) classified as an outage", serr)
	}
}
