package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/memstore"
)

// memCounter is an in-process projection: per-stream sums.
type memCounter struct {
	name    string
	panicAt uint64
	mu      sync.Mutex
	sums    map[string]int64
	last    uint64
}

func (m *memCounter) Name() string      { return m.name }
func (m *memCounter) Handles() []string { return []string{typeAdded, typeReset} }
func (m *memCounter) Apply(_ context.Context, r eventstore.Record) error {
	if r.Position == m.panicAt {
		panic("memCounter: boom")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sums == nil {
		m.sums = map[string]int64{}
	}
	if r.Position <= m.last {
		panic("memCounter: applied twice")
	}
	m.last = r.Position
	switch r.Type {
	case typeAdded:
		var p payload
		_ = json.Unmarshal(r.Data, &p)
		m.sums[r.Stream] += p.V
	case typeReset:
		m.sums[r.Stream] = 0
	}
	return nil
}

func TestMemoryProjectionBuildsFromZeroOnEveryInstance(t *testing.T) {
	t.Parallel()
	store := memstore.New(nil)
	rng := rand.New(rand.NewPCG(9, 10))
	head := appendRandom(t, store, rng, 50)
	want := map[string]int64{}
	for _, r := range allRecords(t, store) {
		var p payload
		_ = json.Unmarshal(r.Data, &p)
		switch r.Type {
		case typeAdded:
			want[r.Stream] += p.V
		case typeReset:
			want[r.Stream] = 0
		}
	}
	db := openDB(t, engines[0].open(t))
	a, b := &memCounter{name: "mem.v1"}, &memCounter{name: "mem.v1"}
	ra := startRunner(t, testConfig(store, db), a)
	rb := startRunner(t, testConfig(store, db), b)
	for _, x := range []struct {
		r *running
		m *memCounter
	}{{ra, a}, {rb, b}} {
		waitFor(t, x.r, "mem.v1", head)
		eventually(t, "ready after catching up", func() bool { return x.r.Ready(context.Background()) == nil })
		x.m.mu.Lock()
		for s, v := range want {
			if x.m.sums[s] != v {
				t.Errorf("stream %s: %d, want %d", s, x.m.sums[s], v)
			}
		}
		x.m.mu.Unlock()
	}
}

// feedDropStore fails one subscription after it delivered dropAfter
// records, as a dropped database connection does.
type feedDropStore struct {
	eventstore.Store
	mu        sync.Mutex
	dropAfter int
	dropped   bool
}

var errFeedDropped = errors.New("feed: connection reset by peer")

func (s *feedDropStore) Subscribe(ctx context.Context, after uint64, h eventstore.Handler) error {
	s.mu.Lock()
	drop := !s.dropped
	s.dropped = true
	s.mu.Unlock()
	if !drop {
		return s.Store.Subscribe(ctx, after, h)
	}
	n := 0
	return s.Store.Subscribe(ctx, after, func(ctx context.Context, r eventstore.Record) error {
		if n == s.dropAfter {
			return errFeedDropped
		}
		n++
		return h(ctx, r)
	})
}

func TestMemoryProjectionResumesAfterTheFeedFailsWithoutApplyingTwice(t *testing.T) {
	t.Parallel()
	inner := memstore.New(nil)
	rng := rand.New(rand.NewPCG(11, 12))
	head := appendRandom(t, inner, rng, 40)
	store := &feedDropStore{Store: inner, dropAfter: 15}
	db := openDB(t, engines[0].open(t))
	m := &memCounter{name: "mem.v1"} // panics on a double apply
	r := startRunner(t, testConfig(store, db), m)
	waitFor(t, r, "mem.v1", head)
	more := appendRandom(t, inner, rng, 10)
	waitFor(t, r, "mem.v1", more)
	store.mu.Lock()
	dropped := store.dropped
	store.mu.Unlock()
	if !dropped {
		t.Fatal("the feed was never dropped: the test did not exercise a resume")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.last != more {
		t.Fatalf("model at position %d, ledger head %d", m.last, more)
	}
}
