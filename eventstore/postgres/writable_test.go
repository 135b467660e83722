package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/postgres"
	"github.com/authledger/authledger/internal/pgtest"
)

// A database whose new transactions are read-only (what a promoted
// replica's old primary or an operator's emergency switch looks like) is
// seen by CheckWritable without a write.
func TestCheckWritableSeesAReadOnlyDatabase(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	s, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CheckWritable(ctx); err != nil {
		t.Fatalf("a fresh ledger is not writable: %v", err)
	}
	defer s.Close()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var name string
	if err := db.QueryRowContext(ctx, `SELECT current_database()`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `ALTER DATABASE "`+strings.ReplaceAll(name, `"`, `""`)+`" SET default_transaction_read_only = on`); err != nil {
		t.Fatal(err)
	}
	// The setting reaches new sessions only: end the store's, so its pool
	// reconnects. A check on a dropped connection is an outage too, so
	// look for the read-only verdict itself.
	if _, err := db.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	var last error
	for range 20 {
		last = s.CheckWritable(ctx)
		if last != nil && strings.Contains(last.Error(), "read-only") {
			break
		}
	}
	if !errors.Is(last, eventstore.ErrUnavailable) || !strings.Contains(last.Error(), "read-only") {
		t.Fatalf("CheckWritable on a read-only database = %v, want a read-only eventstore.ErrUnavailable", last)
	}
}
