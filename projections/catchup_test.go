package projections_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/projections"
)

// advancingCounter is memCounter that also tracks the position of the
// records it does not handle, as the services registry does.
type advancingCounter struct {
	memCounter
	amu      sync.Mutex
	advanced uint64
}

func (a *advancingCounter) Advance(pos uint64) {
	a.amu.Lock()
	defer a.amu.Unlock()
	if pos <= a.advanced {
		panic("advancingCounter: advanced backwards or twice")
	}
	a.advanced = pos
}

var _ projections.Advancer = (*advancingCounter)(nil)

// position is the last record seen, handled or not.
func (a *advancingCounter) position() uint64 {
	a.mu.Lock()
	last := a.last
	a.mu.Unlock()
	a.amu.Lock()
	defer a.amu.Unlock()
	return max(last, a.advanced)
}

func TestCatchUpFoldsHandledRecordsOnceAndAdvancesPastTheRest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := memstore.New(nil)
	rng := rand.New(rand.NewPCG(21, 22))
	head := appendRandom(t, store, rng, 2*eventstore.FeedBatch+7) // several pages
	m := &advancingCounter{memCounter: memCounter{name: "mem.v1"}}
	last, err := projections.CatchUp(ctx, store, m, 0)
	if err != nil {
		t.Fatal(err)
	}
	if last != head || m.position() != head {
		t.Fatalf("covered %d, model at %d, want the head %d", last, m.position(), head)
	}
	want := memFold(allRecords(t, store))
	if got := m.snapshot(); !equalSums(got, want) {
		t.Fatalf("sums %v, want %v", got, want)
	}
	// From where it stopped, a second catch-up has nothing to apply (a
	// double apply panics in memCounter).
	more := appendRandom(t, store, rng, 5)
	if last, err = projections.CatchUp(ctx, store, m, last); err != nil || last != more {
		t.Fatalf("second catch-up covered %d, err %v; want %d", last, err, more)
	}
}

func TestFollowDeliversStoredThenLiveRecordsUntilCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	store := memstore.New(nil)
	rng := rand.New(rand.NewPCG(23, 24))
	appendRandom(t, store, rng, 30)
	m := &advancingCounter{memCounter: memCounter{name: "mem.v1"}}
	done := make(chan error, 1)
	go func() { done <- projections.Follow(ctx, store, m, 0) }()
	head := appendRandom(t, store, rng, 30)
	eventually(t, "the model follows the live appends", func() bool { return m.position() == head })
	if got, want := m.snapshot(), memFold(allRecords(t, store)); !equalSums(got, want) {
		t.Fatalf("sums %v, want %v", got, want)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Follow did not return after its context ended")
	}
}

func (m *memCounter) snapshot() map[string]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int64{}
	for k, v := range m.sums {
		out[k] = v
	}
	return out
}

// memFold is memCounter's state computed directly from the ledger.
func memFold(recs []eventstore.Record) map[string]int64 {
	m := &memCounter{name: "fold.v1"}
	for _, r := range recs {
		if r.Type == typeAdded || r.Type == typeReset {
			_ = m.Apply(context.Background(), r)
		}
	}
	return m.snapshot()
}

func equalSums(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
