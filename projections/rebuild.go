package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Progress is where a rebuild stands.
type Progress struct {
	Generation uint64        // the generation being built
	Done       uint64        // ledger position the shadow copy has reached
	Total      uint64        // ledger head when last looked at
	Rate       float64       // events per second in this run
	ETA        time.Duration // at Rate
	Swapped    bool          // the shadow copy is live; the rebuild is over
}

// ErrBusy means another instance owns the projection; the rebuild request
// is recorded and that instance performs it.
var ErrBusy = errors.New("projections: projection is owned by another instance")

// Rebuild rebuilds the named projection in this process, reporting
// progress (report may be nil). It takes the projection's lock first and
// returns ErrBusy when another instance holds it beyond wait. Use it where
// no runner of this process owns the projection (the CLI); a running
// Runner performs requests recorded with RequestRebuild itself.
func (r *Runner) Rebuild(ctx context.Context, name string, wait time.Duration, report func(Progress)) error {
	w, err := r.worker(name)
	if err != nil {
		return err
	}
	if w.kind == kindMemory {
		return fmt.Errorf("%w: %s", ErrNotRebuildable, name)
	}
	// Give up waiting for the lock after wait, but keep the lock's context
	// alive afterwards.
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	var acquired atomic.Bool
	timer := time.AfterFunc(wait, func() {
		if !acquired.Load() {
			cancel()
		}
	})
	lockCtx, release, err := r.acquire(actx, w)
	acquired.Store(true)
	timer.Stop()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %s", ErrBusy, name)
	}
	defer release()
	w.owned.Store(true)
	defer w.owned.Store(false)
	if err := w.prepare(lockCtx); err != nil {
		return err
	}
	return w.rebuild(lockCtx, report)
}

// rebuild builds a shadow generation from position 1 while the live one
// keeps serving, then swaps it in. It continues a rebuild a crash
// interrupted: shadow rows and rebuild_checkpoint commit together.
func (w *worker) rebuild(ctx context.Context, report func(Progress)) error {
	if w.kind == kindMemory {
		return fmt.Errorf("%w: %s", ErrNotRebuildable, w.name)
	}
	sp := w.p.(SQLProjection)
	rs, err := w.r.state.rebuildState(ctx, w.name)
	if err != nil {
		return fmt.Errorf("rebuild %s: %w", w.name, err)
	}
	gen, done := rs.gen, rs.done
	if gen == 0 {
		gen, done = rs.liveGen+1, 0
		err := w.createTables(ctx, sp, w.tables(gen, true), func(tx *sql.Tx) error {
			return w.r.state.rebuildStarted(ctx, tx, w.name, gen)
		})
		if err != nil {
			return fmt.Errorf("rebuild %s: %w", w.name, err)
		}
		w.r.log.Info("projection rebuild started", "projection", w.name, "generation", gen)
	} else {
		if err := w.r.state.rebuildContinued(ctx, w.name); err != nil {
			return err
		}
		w.r.log.Info("projection rebuild continues", "projection", w.name, "generation", gen, "from", done)
	}
	shadow := w.tables(gen, true)
	b := &builder{w: w, sp: sp, shadow: shadow, gen: gen, done: done, from: done, start: w.r.cfg.Now(), report: report}

	if err := b.catchUp(ctx); err != nil {
		return w.rebuildFailed(ctx, err)
	}
	// Swap: hold the live applier so nothing lands between the shadow's
	// last batch and the rename.
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := b.catchUp(ctx); err != nil {
		return w.rebuildFailed(ctx, err)
	}
	live := w.tables(gen, false)
	err = w.inTx(ctx, func(tx *sql.Tx) error {
		for _, t := range sp.Tables() {
			if _, err := tx.ExecContext(ctx, `DROP TABLE IF EXISTS `+live.Name(t)); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `ALTER TABLE `+shadow.Name(t)+` RENAME TO `+live.Name(t)); err != nil {
				return err
			}
		}
		return w.r.state.swapped(ctx, tx, w.name, gen, b.done, b.lastAt)
	})
	if err != nil {
		return w.rebuildFailed(ctx, fmt.Errorf("swap: %w", err))
	}
	w.smu.Lock()
	w.gen = gen
	w.progress = Progress{}
	w.smu.Unlock()
	w.advance(b.done)
	p := b.progress()
	p.Swapped = true
	if report != nil {
		report(p)
	}
	w.r.log.Info("projection rebuilt and swapped in", "projection", w.name, "generation", gen, "position", b.done, "events_per_second", p.Rate)
	return nil
}

func (w *worker) rebuildFailed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	text := truncate(err.Error(), maxErrorText)
	w.smu.Lock()
	w.rebuildErr = text
	w.smu.Unlock()
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = w.r.state.rebuildFailed(ectx, w.name, text)
	return fmt.Errorf("rebuild %s: %w", w.name, err)
}

// builder applies ledger batches to the shadow copy.
type builder struct {
	w      *worker
	sp     SQLProjection
	shadow Tables
	gen    uint64
	done   uint64
	from   uint64
	total  uint64
	lastAt time.Time
	start  time.Time
	report func(Progress)
}

func (b *builder) progress() Progress {
	el := time.Since(b.start).Seconds()
	p := Progress{Generation: b.gen, Done: b.done, Total: b.total}
	if el > 0 {
		p.Rate = float64(b.done-b.from) / el
	}
	if p.Rate > 0 && p.Total > p.Done {
		p.ETA = time.Duration(float64(p.Total-p.Done) / p.Rate * float64(time.Second))
	}
	return p
}

// catchUp applies batches until the shadow has every stored record.
func (b *builder) catchUp(ctx context.Context) error {
	for {
		n, err := b.step(ctx)
		if err != nil || n == 0 {
			return err
		}
	}
}

// step applies one batch in one transaction, retrying it a bounded number
// of times; it returns how many records it covered.
func (b *builder) step(ctx context.Context) (int, error) {
	w := b.w
	recs, err := w.r.cfg.Store.ReadAll(ctx, b.done, w.r.cfg.RebuildBatch)
	if err != nil {
		return 0, err
	}
	if len(recs) == 0 {
		return 0, nil
	}
	last := recs[len(recs)-1]
	if last.Position > b.total {
		b.total = last.Position
		if len(recs) == w.r.cfg.RebuildBatch {
			if h, err := w.r.cfg.Store.Head(ctx); err == nil {
				b.total = h.Position
			}
		}
	}
	p := b.progress()
	handled := recs[:0:0]
	for _, r := range recs {
		if w.handles[r.Type] {
			handled = append(handled, r)
		}
	}
	apply := func(tx *sql.Tx) error {
		for _, r := range handled {
			if err := b.sp.Apply(ctx, tx, b.shadow, r); err != nil {
				return fmt.Errorf("apply %s at position %d: %w", r.Type, r.Position, err)
			}
		}
		return w.r.state.rebuildProgress(ctx, tx, w.name, last.Position, b.total, p.Rate)
	}
	delay := w.r.cfg.RetryInterval
	for attempt := 0; ; attempt++ {
		err = w.inTx(ctx, apply)
		if err == nil || attempt >= w.r.cfg.MaxRetries || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
	if err != nil {
		return 0, err
	}
	b.done = last.Position
	b.lastAt = last.RecordedAt
	p = b.progress()
	w.smu.Lock()
	w.progress = p
	w.smu.Unlock()
	if b.report != nil {
		b.report(p)
	}
	return len(recs), nil
}
