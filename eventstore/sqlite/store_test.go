package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/sqlite"
	"github.com/authledger/authledger/eventstore/storetest"
)

func TestContract(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	openAt := func(t *testing.T, name string, now func() time.Time) eventstore.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(dir, name+".db"), sqlite.Options{Now: now})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	storetest.Run(t, storetest.Features{Durable: true, UniqueIDs: true}, storetest.Factory{
		Open:          func(t *testing.T, name string) eventstore.Store { return openAt(t, name, nil) },
		OpenWithClock: openAt,
	})
}

// The same contract with a flush window and tiny batches, so the writer's
// other batching paths are exercised too.
func TestContractWithAFlushWindowAndSmallBatches(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	openAt := func(t *testing.T, name string, now func() time.Time) eventstore.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(dir, name+".db"), sqlite.Options{Now: now, FlushWindow: 500 * time.Microsecond, MaxBatch: 8})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	storetest.Run(t, storetest.Features{Durable: true, UniqueIDs: true}, storetest.Factory{
		Open:          func(t *testing.T, name string) eventstore.Store { return openAt(t, name, nil) },
		OpenWithClock: openAt,
	})
}
