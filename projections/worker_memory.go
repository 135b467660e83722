package projections

// The memory worker: every instance folds its own copy from position 0.

import (
	"context"
	"time"

	"github.com/authledger/authledger/eventstore"
)

func (w *worker) runMemory(ctx context.Context) {
	head, err := w.r.cfg.Store.Head(ctx)
	for err != nil {
		w.r.log.Error("projection cannot read ledger head", "projection", w.name, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(w.r.cfg.LockRetry):
		}
		head, err = w.r.cfg.Store.Head(ctx)
	}
	w.smu.Lock()
	w.startHead = head.Position
	w.smu.Unlock()
	if rs, ok := w.p.(Resumable); ok && rs.ResumeAt() > w.checkpoint.Load() {
		w.checkpoint.Store(rs.ResumeAt()) // loaded before the runner started (snapshot.go)
	}
	w.setState(StateRunning, "", 0)
	// The first pass folds the ledger from position 1 into the empty model;
	// a pass after the feed failed (a dropped database connection) resumes
	// after the last applied record, so the model never freezes silently
	// and nothing is applied twice.
	for {
		err := w.feed.serve(ctx, w.checkpoint.Load())
		if ctx.Err() != nil {
			return
		}
		w.r.log.Error("memory projection feed stopped; resuming", "projection", w.name, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(w.r.cfg.LockRetry):
		}
	}
}

// applyMemory folds rec into the in-process state unless skip (a
// checkpoint-only message); again reports a record at or below the
// checkpoint, which a pass after a feed failure may deliver once more.
func (w *worker) applyMemory(ctx context.Context, rec eventstore.Record, skip bool) (again bool, err error) {
	if rec.Position <= w.checkpoint.Load() {
		return true, nil
	}
	if skip {
		if adv, ok := w.p.(Advancer); ok {
			adv.Advance(rec.Position) // so its snapshots name a recent position
		}
		return false, nil
	}
	return false, w.p.(MemoryProjection).Apply(ctx, rec)
}
