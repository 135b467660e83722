package projections

import (
	"context"
	"fmt"

	"github.com/authledger/authledger/eventstore"
)

// Advancer is an optional extension of MemoryProjection for a read model
// that tracks the ledger position it has seen (to answer "wait until
// position p"): CatchUp and Follow hand it the position of every record
// it does not handle, so that position covers the whole ledger.
type Advancer interface {
	// Advance notes that the ledger up to position holds nothing for the
	// read model beyond what it has folded.
	Advance(position uint64)
}

// CatchUp folds every stored record after position from into mp, a page
// at a time, and returns the last position it covered (from on an empty
// tail). It is for read models used outside the Runner: a CLI command, or
// a start-up fold before the runner replays.
func CatchUp(ctx context.Context, store eventstore.Store, mp MemoryProjection, from uint64) (uint64, error) {
	apply := catchUpApplier(mp)
	for {
		recs, err := store.ReadAll(ctx, from, eventstore.FeedBatch)
		if err != nil {
			return from, fmt.Errorf("%s: read ledger: %w", mp.Name(), err)
		}
		for _, r := range recs {
			if err := apply(ctx, r); err != nil {
				return from, err
			}
			from = r.Position
		}
		if len(recs) < eventstore.FeedBatch {
			return from, nil
		}
	}
}

// Follow folds the ledger after position from into mp until ctx ends or
// the ledger feed fails: the stored records first, then live appends as
// the store notifies them. It is for processes that run no Runner.
func Follow(ctx context.Context, store eventstore.Store, mp MemoryProjection, from uint64) error {
	return store.Subscribe(ctx, from, catchUpApplier(mp))
}

// catchUpApplier applies the records mp handles and hands the positions
// of the rest to its Advancer, if it has one.
func catchUpApplier(mp MemoryProjection) eventstore.Handler {
	handles := map[string]bool{}
	for _, t := range mp.Handles() {
		handles[t] = true
	}
	adv, _ := mp.(Advancer)
	return func(ctx context.Context, r eventstore.Record) error {
		if !handles[r.Type] {
			if adv != nil {
				adv.Advance(r.Position)
			}
			return nil
		}
		return mp.Apply(ctx, r) // read models name the position in their errors
	}
}
