package security_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/keyring"
	"github.com/authledger/authledger/eventstore/postgres"
	"github.com/authledger/authledger/internal/pgtest"
	"github.com/authledger/authledger/secrets/local"
)

// TestRotationRaceOnPostgreSQL: four instances, each with its own
// connection pool on one real PostgreSQL ledger and one secrets directory,
// tick at the same due moment; exactly one key is published, and the
// losers' private keys are not left behind.
func TestRotationRaceOnPostgreSQL(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	dir := t.TempDir()
	c := &clock{now: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}
	var instances []*commands.Keys
	for range 4 {
		store, err := postgres.Open(ctx, dsn, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = store.Close() })
		sp, err := local.Open(dir, local.Options{MasterKey: make([]byte, 32)})
		if err != nil {
			t.Fatal(err)
		}
		k, err := commands.NewKeys(commands.KeysConfig{Store: store, Secrets: sp, Now: c.Now})
		if err != nil {
			t.Fatal(err)
		}
		instances = append(instances, k)
	}
	race := func() (published int) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, k := range instances {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := k.Tick(ctx, commands.Metadata{Actor: "race"})
				if err != nil {
					t.Error(err)
					return
				}
				if res.Published != "" {
					mu.Lock()
					published++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return published
	}
	if n := race(); n != 1 {
		t.Fatalf("first start: %d instances created the first key", n)
	}
	p := instances[0].Policy()
	c.Add(p.RotationInterval - p.PublicationLead)
	if n := race(); n != 1 {
		t.Fatalf("rotation: %d instances published a key", n)
	}
	ring, err := instances[0].Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	states := map[keyring.State]int{}
	for _, k := range ring.Keys() {
		states[k.State]++
	}
	if states[keyring.StateActive] != 1 || states[keyring.StatePublished] != 1 || len(ring.Keys()) != 2 {
		t.Fatalf("ring states = %v", states)
	}
	sp, _ := local.Open(dir, local.Options{MasterKey: make([]byte, 32)})
	names, _ := sp.List(ctx, "signing-key/")
	if len(names) != 2 {
		t.Fatalf("%d private keys stored, want 2", len(names))
	}
}
