package projections_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/projections"
)

func TestPoisonedEventStopsTheProjectionUntilResumed(t *testing.T) {
	t.Parallel()
	for _, e := range engines {
		t.Run("on "+e.name, func(t *testing.T) {
			t.Parallel()
			store := memstore.New(nil)
			db := openDB(t, e.open(t))
			rng := rand.New(rand.NewPCG(3, 4))
			appendRandom(t, store, rng, 60)
			recs := allRecords(t, store)
			var bad eventstore.Record
			for _, r := range recs[20:] {
				if r.Type == typeAdded {
					bad = r
					break
				}
			}
			c := newCounter("counter.v1")
			fail := func(r eventstore.Record) bool { return r.Position == bad.Position }
			c.fail.Store(&fail)
			reg := prometheus.NewRegistry()
			cfg := testConfig(store, db)
			cfg.Registerer = reg
			r := startRunner(t, cfg, c)

			eventually(t, "the projection reports the stop", func() bool {
				return statusOf(t, db, store, "counter.v1").State == projections.StateStopped
			})
			st := statusOf(t, db, store, "counter.v1")
			var lastHandled uint64 // unhandled events just before bad may or may not be counted
			for _, r := range recs[:bad.Position-1] {
				if r.Type != typeNoise {
					lastHandled = r.Position
				}
			}
			if st.ErrorPosition != bad.Position || st.Checkpoint >= bad.Position || st.Checkpoint < lastHandled || !strings.Contains(st.Error, "cannot fold") {
				t.Fatalf("status %+v, want stopped at %d with checkpoint in [%d, %d)", st, bad.Position, lastHandled, bad.Position)
			}
			if err := r.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), "stopped at position") {
				t.Fatalf("ready = %v, want a stopped projection", err)
			}
			if v := projectionGauge(t, reg, "authledger_projection_state", "counter.v1", "stopped"); v != 1 {
				t.Fatalf("state metric stopped = %v, want 1", v)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			err := r.WaitFor(ctx, "counter.v1", bad.Position)
			cancel()
			if !errors.Is(err, projections.ErrStopped) {
				t.Fatalf("WaitFor past the poison = %v, want ErrStopped", err)
			}
			// Nothing after the poisoned event was applied.
			_, applied := dump(t, db, "counter.v1")
			wantS, wantA := model(recs[:bad.Position-1])
			if _, a := dump(t, db, "counter.v1"); a != wantA {
				t.Fatalf("applied rows beyond the poisoned event:\n%s\nwant\n%s", applied, wantA)
			}
			_ = wantS

			// The fix: the handler accepts the event again, and an admin resumes.
			c.fail.Store(nil)
			if err := r.Resume(context.Background(), "counter.v1"); err != nil {
				t.Fatal(err)
			}
			head := recs[len(recs)-1].Position
			eventually(t, "ready again", func() bool { return r.Ready(context.Background()) == nil })
			waitFor(t, r, "counter.v1", head)
			if err := r.Ready(context.Background()); err != nil {
				t.Fatalf("still not ready after the resume: %v", err)
			}
			gotS, gotA := dump(t, db, "counter.v1")
			wantS, wantA = model(recs)
			if gotS != wantS || gotA != wantA {
				t.Fatalf("after resume the read model differs from the fold")
			}
			eventually(t, "status shows running", func() bool {
				s := statusOf(t, db, store, "counter.v1")
				return s.State == projections.StateRunning && s.Error == ""
			})
		})
	}
}

func TestStoppedProjectionResumesFromTheSameEventAfterARestartWithFixedCode(t *testing.T) {
	t.Parallel()
	store := memstore.New(nil)
	db := openDB(t, engines[0].open(t))
	appendRandom(t, store, rand.New(rand.NewPCG(5, 6)), 40)
	recs := allRecords(t, store)
	bad := recs[len(recs)/2]
	for bad.Type != typeAdded {
		bad = recs[bad.Position]
	}
	broken := newCounter("counter.v1")
	fail := func(r eventstore.Record) bool { return r.Position == bad.Position }
	broken.fail.Store(&fail)
	r1 := startRunner(t, testConfig(store, db), broken)
	eventually(t, "the stop is recorded", func() bool {
		return statusOf(t, db, store, "counter.v1").State == projections.StateStopped
	})
	r1.stop()

	r2 := startRunner(t, testConfig(store, db), newCounter("counter.v1"))
	waitFor(t, r2, "counter.v1", recs[len(recs)-1].Position)
	gotS, gotA := dump(t, db, "counter.v1")
	wantS, wantA := model(recs)
	if gotS != wantS || gotA != wantA {
		t.Fatal("after the restart the read model differs from the fold")
	}
}

func TestPanickingHandlerIsPoisonNotACrash(t *testing.T) {
	t.Parallel()
	store := memstore.New(nil)
	db := openDB(t, engines[0].open(t))
	appendRandom(t, store, rand.New(rand.NewPCG(7, 8)), 10)
	mem := &memCounter{name: "mem.v1", panicAt: 3}
	r := startRunner(t, testConfig(store, db), mem)
	eventually(t, "the memory projection reports the stop", func() bool {
		err := r.Ready(context.Background())
		return err != nil && strings.Contains(err.Error(), "stopped at position 3")
	})
}

func projectionGauge(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			ok := len(m.Label) == len(labels)
			for i, l := range m.Label {
				if ok && l.GetValue() != labels[i] {
					ok = false
				}
			}
			if ok {
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("metric %s%v not found", name, labels)
	return 0
}
