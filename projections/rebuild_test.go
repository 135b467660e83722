package projections_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/projections"
)

func TestRequestedRebuildSwapsInAShadowCopyWhileTheLiveOneServes(t *testing.T) {
	t.Parallel()
	for _, e := range engines {
		t.Run("on "+e.name, func(t *testing.T) {
			t.Parallel()
			store := memstore.New(nil)
			db := openDB(t, e.open(t))
			rng := rand.New(rand.NewPCG(11, 12))
			head := appendRandom(t, store, rng, 300)
			r := startRunner(t, testConfig(store, db), newCounter("counter.v1"))
			waitFor(t, r, "counter.v1", head)
			gen := statusOf(t, db, store, "counter.v1").Generation

			// Corrupt the live copy the way an incident might; the rebuild
			// must repair it from the ledger.
			if _, err := db.Exec(`DELETE FROM ` + projections.Live("counter.v1").Name("streams")); err != nil {
				t.Fatal(err)
			}
			if err := r.RequestRebuild(context.Background(), "counter.v1"); err != nil {
				t.Fatal(err)
			}
			// Appends keep coming during the rebuild, and readers keep reading.
			var wg sync.WaitGroup
			stop := make(chan struct{})
			wg.Add(1)
			go func() {
				defer wg.Done()
				live := projections.Live("counter.v1").Name("applied")
				for {
					select {
					case <-stop:
						return
					default:
					}
					var n int
					if err := db.QueryRow(`SELECT COUNT(*) FROM ` + live).Scan(&n); err != nil {
						t.Errorf("a reader saw no live table during the rebuild: %v", err)
						return
					}
					time.Sleep(time.Millisecond)
				}
			}()
			for range 5 {
				appendRandom(t, store, rng, 20)
			}
			eventually(t, "the rebuild swaps in a new generation", func() bool {
				s := statusOf(t, db, store, "counter.v1")
				return s.Generation == gen+1 && s.Rebuild == nil
			})
			close(stop)
			wg.Wait()
			head = appendRandom(t, store, rng, 10)
			waitFor(t, r, "counter.v1", head)
			gotS, gotA := dump(t, db, "counter.v1")
			wantS, wantA := model(allRecords(t, store))
			if gotS != wantS || gotA != wantA {
				t.Fatalf("rebuilt read model differs from the fold\ngot:\n%s\nwant:\n%s", gotS, wantS)
			}
		})
	}
}

func TestRebuildInProcessReportsProgressAndRefusesAnOwnedProjection(t *testing.T) {
	t.Parallel()
	store := memstore.New(nil)
	db := openDB(t, engines[0].open(t))
	head := appendRandom(t, store, rand.New(rand.NewPCG(13, 14)), 450)

	owner := startRunner(t, testConfig(store, db), newCounter("counter.v1"))
	waitFor(t, owner, "counter.v1", head)

	cli, err := projections.New(testConfig(store, db))
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Register(newCounter("counter.v1")); err != nil {
		t.Fatal(err)
	}
	if err := cli.Rebuild(context.Background(), "counter.v1", 200*time.Millisecond, nil); !errors.Is(err, projections.ErrBusy) {
		t.Fatalf("rebuilding a projection another instance owns: err %v, want ErrBusy", err)
	}
	owner.stop()

	var reports []projections.Progress
	if err := cli.Rebuild(context.Background(), "counter.v1", 5*time.Second, func(p projections.Progress) { reports = append(reports, p) }); err != nil {
		t.Fatal(err)
	}
	if len(reports) < 3 || !reports[len(reports)-1].Swapped || reports[len(reports)-1].Done != head || reports[0].Total != head {
		t.Fatalf("progress reports %+v, want several ending swapped at %d", reports, head)
	}
	gotS, gotA := dump(t, db, "counter.v1")
	wantS, wantA := model(allRecords(t, store))
	if gotS != wantS || gotA != wantA {
		t.Fatal("rebuilt read model differs from the fold")
	}
}
