package commands_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/postgres"
	"github.com/authledger/authledger/eventstore/sqlite"
	"github.com/authledger/authledger/internal/pgtest"
)

func openSQLite(t testing.TB) eventstore.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ledger.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func openPostgres(t testing.TB) eventstore.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), pgtest.NewDatabase(t), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestFiftyConcurrentPresentationsOnDurableLedgers(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(testing.TB) eventstore.Store{"sqlite": openSQLite, "postgres": openPostgres} {
		t.Run(name+" without grace", func(t *testing.T) {
			t.Parallel()
			raceRefresh(t, open(t), 50, 0)
		})
		t.Run(name+" within grace", func(t *testing.T) {
			t.Parallel()
			raceRefresh(t, open(t), 50, 5*time.Second)
		})
	}
}
