package projections_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"sync"
	"testing"

	"authledger/eventstore"
	"authledger/eventstore/memstore"
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
