package projections

// The owner's heartbeat: ownership refresh, and resume and rebuild
// requests picked up from projection_state.

import (
	"context"
	"sync"
)

// heartbeat refreshes ownership, and picks up resume and rebuild requests.
func (w *worker) heartbeat(ctx context.Context, rebuildWG *sync.WaitGroup) error {
	// On SQLite the owner column is the lease: never take it back from an
	// instance that took it over. On PostgreSQL the advisory lock decides.
	st, msg, pos := w.snapshot()
	req, err := w.r.state.heartbeat(ctx, w.name, w.r.cfg.Instance, w.db().Dialect == Postgres, liveState{state: st, err: msg, pos: pos})
	if err != nil {
		return err
	}
	if req.resume != 0 {
		if err := w.r.state.resumeTaken(ctx, w.name); err != nil {
			return err
		}
		w.r.log.Info("projection resume requested", "projection", w.name)
		w.resume.Notify()
		w.smu.Lock()
		w.rebuildErr = ""
		w.smu.Unlock()
	}
	if req.rebuild == 0 && req.rebuildGen == 0 {
		return nil
	}
	w.smu.Lock()
	busy, failed := w.rebuilding, w.rebuildErr != ""
	if !busy && !failed {
		w.rebuilding = true
	}
	w.smu.Unlock()
	if busy || failed {
		return nil
	}
	rebuildWG.Add(1)
	go func() {
		defer rebuildWG.Done()
		err := w.rebuild(ctx, nil)
		w.smu.Lock()
		w.rebuilding = false
		w.smu.Unlock()
		if err != nil && ctx.Err() == nil {
			w.r.log.Error("projection rebuild stopped", "projection", w.name, "err", err)
		}
	}()
	return nil
}
