package projections_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/projections"
)

func TestSQLProjectionFoldsEveryHandledEventOnce(t *testing.T) {
	t.Parallel()
	for _, e := range engines {
		t.Run("on "+e.name, func(t *testing.T) {
			t.Parallel()
			store := memstore.New(nil)
			db := openDB(t, e.open(t))
			rng := rand.New(rand.NewPCG(1, 2))
			head := appendRandom(t, store, rng, 120)
			r := startRunner(t, testConfig(store, db), newCounter("counter.v1"))
			waitFor(t, r, "counter.v1", head)
			head = appendRandom(t, store, rng, 80) // live appends after catch-up
			waitFor(t, r, "counter.v1", head)
			wantS, wantA := model(allRecords(t, store))
			gotS, gotA := dump(t, db, "counter.v1")
			if gotS != wantS || gotA != wantA {
				t.Fatalf("read model differs from the ledger fold\nstreams got:\n%s\nwant:\n%s", gotS, wantS)
			}
			st := statusOf(t, db, store, "counter.v1")
			if st.Checkpoint != head || st.LagEvents != 0 || st.State != projections.StateRunning {
				t.Fatalf("status %+v, want checkpoint %d, no lag, running", st, head)
			}
		})
	}
}

func TestCheckpointAdvancesPastEventsNoProjectionHandles(t *testing.T) {
	t.Parallel()
	store := memstore.New(nil)
	db := openDB(t, engines[0].open(t))
	ctx := context.Background()
	var last uint64
	for range 5 {
		recs, err := store.Append(ctx, eventstore.StreamAppend{Stream: "noise", Expected: eventstore.Any(), Events: []eventstore.Event{{Type: typeNoise, Data: []byte(`{}`)}}})
		if err != nil {
			t.Fatal(err)
		}
		last = recs[0].Position
	}
	r := startRunner(t, testConfig(store, db), newCounter("counter.v1"))
	waitFor(t, r, "counter.v1", last)
	eventually(t, "stored checkpoint reaches the head", func() bool { return statusOf(t, db, store, "counter.v1").Checkpoint == last })
}

func TestRegisterRefusesNamesWithoutVersionAndDuplicates(t *testing.T) {
	t.Parallel()
	db := openDB(t, engines[0].open(t))
	r, err := projections.New(testConfig(memstore.New(nil), db))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		p    projections.Projection
		want error
	}{
		{"a name without a version suffix is refused", newCounter("counter"), projections.ErrBadName},
		{"a first registration is accepted", newCounter("counter.v1"), nil},
		{"the same name twice is refused", newCounter("counter.v1"), projections.ErrDuplicate},
		{"a new version is another projection", newCounter("counter.v2"), nil},
	}
	for _, tc := range cases {
		if err := r.Register(tc.p); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}
