package projections_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/projections"
)

// seqProj handles every type and fails on a gap or a repeat, so it proves
// it saw each position exactly once, in order.
type seqProj struct {
	name string
	gate chan struct{} // while open-ended, Apply waits at position holdAt
	hold uint64

	mu   sync.Mutex
	last uint64
	err  error
}

func (p *seqProj) Name() string      { return p.name }
func (p *seqProj) Handles() []string { return []string{typeAdded, typeReset, typeNoise} }
func (p *seqProj) Apply(ctx context.Context, r eventstore.Record) error {
	if p.gate != nil && r.Position == p.hold {
		select {
		case <-p.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.Position != p.last+1 && p.err == nil {
		p.err = fmt.Errorf("%s: got position %d after %d", p.name, r.Position, p.last)
	}
	p.last = r.Position
	return nil
}

func (p *seqProj) check(t *testing.T, head uint64) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		t.Fatal(p.err)
	}
	if p.last != head {
		t.Fatalf("%s at %d, head %d", p.name, p.last, head)
	}
}

// Every projection is fed by one subscription: once they are all at the
// head, new records are read from the ledger once, whatever the number of
// projections, and delivered to each (memory and SQL alike).
func TestOneLedgerReadFeedsEveryProjection(t *testing.T) {
	t.Parallel()
	store := memstore.New(nil)
	rng := rand.New(rand.NewPCG(21, 22))
	head := appendRandom(t, store, rng, 300)
	db := openDB(t, engines[0].open(t))
	seqs := []*seqProj{{name: "seq-a.v1"}, {name: "seq-b.v1"}, {name: "seq-c.v1"}, {name: "seq-d.v1"}}
	ps := []projections.Projection{newCounter("counter.v1")}
	for _, s := range seqs {
		ps = append(ps, s)
	}
	r := startRunner(t, testConfig(store, db), ps...)
	for _, p := range ps {
		waitFor(t, r, p.Name(), head)
	}
	shared0, own0 := projections.FeedReads(r.Runner)
	head = appendRandom(t, store, rng, 300)
	for _, p := range ps {
		waitFor(t, r, p.Name(), head)
	}
	for _, s := range seqs {
		s.check(t, head)
	}
	shared1, own1 := projections.FeedReads(r.Runner)
	if own1 != own0 {
		t.Fatalf("the projections read %d records on their own after joining the shared feed", own1-own0)
	}
	if got := shared1 - shared0; got != 300 {
		t.Fatalf("the shared feed read %d records for 300 appended, by %d projections", got, len(ps))
	}
}

// A projection stalled far behind the shared window reads the ledger on
// its own, then joins the shared stream again: no position is skipped or
// seen twice (seqProj), and once it is back, new records reach it without
// a read of its own.
func TestALaggingProjectionCatchesUpOnItsOwnAndRejoins(t *testing.T) {
	t.Parallel()
	store := memstore.New(nil)
	rng := rand.New(rand.NewPCG(31, 32))
	db := openDB(t, engines[0].open(t))
	cfg := testConfig(store, db)
	cfg.FeedWindow = 16
	slow := &seqProj{name: "slow.v1", gate: make(chan struct{}), hold: 5}
	fast := &seqProj{name: "fast.v1"}
	r := startRunner(t, cfg, slow, fast)
	head := appendRandom(t, store, rng, 400)
	waitFor(t, r, "fast.v1", head)
	_, ownBefore := projections.FeedReads(r.Runner)
	close(slow.gate) // 395 records behind, far outside a window of 16
	waitFor(t, r, "slow.v1", head)
	slow.check(t, head)
	_, ownCaughtUp := projections.FeedReads(r.Runner)
	if ownCaughtUp == ownBefore {
		t.Fatal("the stalled projection caught up without reading on its own: the test did not leave the window")
	}
	// A few records at a time, so neither falls out of the small window.
	for range 20 {
		head = appendRandom(t, store, rng, 5)
		waitFor(t, r, "slow.v1", head)
		waitFor(t, r, "fast.v1", head)
	}
	slow.check(t, head)
	fast.check(t, head)
	if _, own := projections.FeedReads(r.Runner); own != ownCaughtUp {
		t.Fatalf("after rejoining, %d records were read on the side", own-ownCaughtUp)
	}
}
