package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/postgres"
	"github.com/authledger/authledger/eventstore/storetest"
	"github.com/authledger/authledger/internal/pgtest"
)

// ledgers gives each ledger name its own schema in one test database:
// CREATE DATABASE costs about half a second, CREATE SCHEMA almost nothing.
// Reopening a name reaches the same ledger.
type ledgers struct {
	mu    sync.Mutex
	admin string
	dsns  map[string]string
}

func newLedgers(t *testing.T) *ledgers {
	return &ledgers{admin: pgtest.NewDatabase(t), dsns: map[string]string{}}
}

func (l *ledgers) dsn(t *testing.T, name string) string {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if dsn, ok := l.dsns[name]; ok {
		return dsn
	}
	schema := fmt.Sprintf("ledger_%d", len(l.dsns))
	conn, err := pgx.Connect(context.Background(), l.admin)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	dsn := l.admin + "&search_path=" + schema
	l.dsns[name] = dsn
	return dsn
}

func open(t *testing.T, dsn string, opt postgres.Options) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, opt)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestContract(t *testing.T) {
	t.Parallel()
	dbs := newLedgers(t)
	storetest.Run(t, storetest.Features{Durable: true, UniqueIDs: true}, storetest.Factory{
		Open: func(t *testing.T, name string) eventstore.Store {
			return open(t, dbs.dsn(t, name), postgres.Options{})
		},
		OpenWithClock: func(t *testing.T, name string, now func() time.Time) eventstore.Store {
			return open(t, dbs.dsn(t, name), postgres.Options{Now: now})
		},
	})
}
