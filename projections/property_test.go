package projections_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/projections"
)

// TestRebuiltFromScratchEqualsBuiltIncrementally is the property: for
// random ledgers, a read model built incrementally (with restarts of the
// runner in between) equals the ledger fold, and a rebuild from position 1
// yields exactly the same rows.
func TestRebuiltFromScratchEqualsBuiltIncrementally(t *testing.T) {
	t.Parallel()
	// 50 ledgers of up to 300 events; fewer and smaller under -race or
	// -short so `make test` stays fast (AUTHLEDGER_PROPERTY_FULL=1 forces
	// the full size).
	sequences, maxEvents := 50, 300
	if (raceEnabled || testing.Short()) && os.Getenv("AUTHLEDGER_PROPERTY_FULL") == "" {
		sequences, maxEvents = 12, 120
	}
	for _, e := range engines {
		t.Run("on "+e.name, func(t *testing.T) {
			t.Parallel()
			db := openDB(t, e.open(t))
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			rng := rand.New(rand.NewPCG(seed, 99))
			for i := range sequences {
				name := fmt.Sprintf("prop_%d.v1", i)
				store := memstore.New(nil)
				n := 1 + rng.IntN(maxEvents)
				restarts := 1 + rng.IntN(3)
				for k := range restarts {
					chunk := n / restarts
					if k == restarts-1 {
						chunk = n - chunk*(restarts-1)
					}
					head := appendRandom(t, store, rng, max(chunk, 1))
					r := startRunner(t, testConfig(store, db), newCounter(name))
					waitFor(t, r, name, head)
					r.stop()
				}
				incS, incA := dump(t, db, name)
				wantS, wantA := model(allRecords(t, store))
				if incS != wantS || incA != wantA {
					t.Fatalf("sequence %d (seed %d): incremental read model differs from the fold\ngot:\n%s\nwant:\n%s", i, seed, incS, wantS)
				}
				rb, err := projections.New(testConfig(store, db))
				if err != nil {
					t.Fatal(err)
				}
				if err := rb.Register(newCounter(name)); err != nil {
					t.Fatal(err)
				}
				if err := rb.Rebuild(context.Background(), name, 10*time.Second, nil); err != nil {
					t.Fatal(err)
				}
				rebS, rebA := dump(t, db, name)
				if rebS != incS || rebA != incA {
					t.Fatalf("sequence %d (seed %d): rebuilt read model differs from the incremental one", i, seed)
				}
			}
		})
	}
}
