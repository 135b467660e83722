package projections

// The SQL worker: an owned run of an SQLProjection, its tables and its
// commits (rows and checkpoint in one transaction).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/authledger/authledger/eventstore"
)

// createTables (re)creates the tables t names from scratch and records
// that in projection_state (record) in the same transaction, so a crash
// never leaves tables the state row does not know about.
func (w *worker) createTables(ctx context.Context, sp SQLProjection, t Tables, record func(tx *sql.Tx) error) error {
	return w.inTx(ctx, func(tx *sql.Tx) error {
		for _, name := range sp.Tables() {
			if _, err := tx.ExecContext(ctx, `DROP TABLE IF EXISTS `+t.Name(name)); err != nil {
				return err
			}
		}
		if err := sp.Setup(ctx, tx, t); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		return record(tx)
	})
}

// runOwned runs a lock-holding projection until ctx ends (lock lost or
// shutdown) or its router stops.
func (w *worker) runOwned(ctx context.Context) error {
	if err := w.prepare(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.feed.serve(ctx, w.checkpoint.Load()) }()
	var rebuildWG sync.WaitGroup
	defer rebuildWG.Wait()
	tick := time.NewTicker(w.r.cfg.Heartbeat)
	defer tick.Stop()
	for {
		if err := w.heartbeat(ctx, &rebuildWG); err != nil && ctx.Err() == nil {
			w.r.log.Warn("projection heartbeat failed", "projection", w.name, "err", err)
		}
		select {
		case <-ctx.Done():
			<-done
			return nil
		case err := <-done:
			if ctx.Err() != nil {
				return nil
			}
			cancel()
			if err == nil {
				// The feed ended on its own (closed): the caller retries.
				err = errors.New("feed stopped unexpectedly")
			}
			return fmt.Errorf("feed stopped: %w", err)
		case <-tick.C:
		}
	}
}

// prepare loads the stored state and, for a new SQL projection, creates
// the first generation's tables.
func (w *worker) prepare(ctx context.Context) error {
	if err := w.ensureRow(ctx); err != nil {
		return err
	}
	st, err := w.r.state.load(ctx, w.name)
	if err != nil {
		return err
	}
	cp, gen := st.checkpoint, st.generation
	if w.kind == kindSQL && gen == 0 {
		sp := w.p.(SQLProjection)
		gen = 1
		err := w.createTables(ctx, sp, w.tables(gen, false), func(tx *sql.Tx) error {
			return w.r.state.firstGeneration(ctx, tx, w.name, gen)
		})
		if err != nil {
			return fmt.Errorf("projection %s: %w", w.name, err)
		}
		cp = 0
	}
	w.smu.Lock()
	w.gen = gen
	w.smu.Unlock()
	w.checkpoint.Store(cp)
	w.advance(cp)
	// A restart retries a stopped projection: the fix may be in this
	// binary. The stop is reported again if the event still fails.
	if st.state == StateStopped {
		w.r.log.Info("projection retrying the event it stopped at", "projection", w.name, "position", st.errPos)
	}
	w.setState(StateRunning, "", 0)
	return w.r.state.running(ctx, w.name, w.r.cfg.Instance)
}

func (w *worker) ensureRow(ctx context.Context) error {
	return w.r.state.ensure(ctx, w.name, w.kind)
}

// applySQL applies rec (unless skip: a checkpoint-only message) and moves
// the checkpoint to it in one transaction. The checkpoint update comes
// first: it locks the state row and tells whether rec is already applied
// (by a rebuild swap or a previous owner), in one round trip.
func (w *worker) applySQL(ctx context.Context, rec eventstore.Record, skip bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	// The in-memory checkpoint only moves after a commit of this owned run
	// (or a swap, under w.mu), so it never runs ahead of the stored one.
	if rec.Position <= w.checkpoint.Load() {
		return nil
	}
	t := w.live()
	return w.inTx(ctx, func(tx *sql.Tx) error {
		fresh, err := w.r.state.advance(ctx, tx, w.name, rec.Position, rec)
		if err != nil || !fresh || skip {
			return err
		}
		if err := w.p.(SQLProjection).Apply(ctx, tx, t, rec); err != nil {
			return fmt.Errorf("apply %s at position %d: %w", rec.Type, rec.Position, err)
		}
		return nil
	})
}

// inTx runs fn in a transaction. (On PostgreSQL the read-model pool
// commits without waiting for the WAL flush; see Open.)
func (w *worker) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := w.db().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}
