package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/authledger/authledger/eventstore/postgres"
	"github.com/authledger/authledger/internal/pgtest"
)

// tables counts the tables in the database's public schema.
func tables(t *testing.T, dsn string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMustExistRefusesADatabaseWithoutALedgerAndCreatesNothing(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	_, err := postgres.Open(context.Background(), dsn, postgres.Options{MustExist: true})
	if !errors.Is(err, postgres.ErrNoLedger) {
		t.Fatalf("err = %v, want ErrNoLedger", err)
	}
	if n := tables(t, dsn); n != 0 {
		t.Fatalf("a MustExist open created %d tables", n)
	}
	open(t, dsn, postgres.Options{}).Close()
	s := open(t, dsn, postgres.Options{MustExist: true})
	if _, err := s.Head(context.Background()); err != nil {
		t.Fatalf("a ledger created before opens with MustExist: %v", err)
	}
}
