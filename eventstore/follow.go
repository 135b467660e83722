package eventstore

import (
	"context"
	"sync"
	"time"
)

// Signal is an in-process broadcast: Wait returns a channel that is closed
// at the next Notify. Adapters notify after each commit (SQLite, memory) or
// on PostgreSQL NOTIFY, and Follow waits on it instead of polling.
type Signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// NewSignal returns a ready Signal.
func NewSignal() *Signal { return &Signal{ch: make(chan struct{})} }

// Wait returns a channel closed by the next Notify.
func (s *Signal) Wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}

// Notify wakes every current waiter.
func (s *Signal) Notify() {
	s.mu.Lock()
	close(s.ch)
	s.ch = make(chan struct{})
	s.mu.Unlock()
}

// FeedBatch is how many records Follow reads per query.
const FeedBatch = 512

// Follow implements Store.Subscribe for adapters: read pages after the
// checkpoint, and when caught up wait for the signal. safety bounds the wait
// so a lost notification (e.g. a dropped LISTEN connection) delays delivery
// instead of stalling it; it is not a polling loop on the hot path.
func Follow(ctx context.Context, read func(ctx context.Context, after uint64, limit int) ([]Record, error), sig *Signal, safety time.Duration, after uint64, h Handler) error {
	for {
		wake := sig.Wait() // taken before reading, so an append during the read is not missed
		recs, err := read(ctx, after, FeedBatch)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if err := h(ctx, r); err != nil {
				return err
			}
			after = r.Position
		}
		if len(recs) == FeedBatch {
			continue
		}
		// Stopped explicitly, not deferred: a feed lives for days and a
		// defer per wake-up would pile up until it returns.
		var (
			timer   *time.Timer
			timeout <-chan time.Time
		)
		if safety > 0 {
			timer = time.NewTimer(safety)
			timeout = timer.C
		}
		select {
		case <-ctx.Done():
		case <-wake:
		case <-timeout:
		}
		if timer != nil {
			timer.Stop()
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}
