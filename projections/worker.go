package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/ThreeDotsLabs/watermill/message"

	"authledger/eventstore"
)

type kind string

const (
	kindSQL    kind = "sql"
	kindMemory kind = "memory"
)

// Live states stored in projection_state.state.
const (
	StateWaiting = "waiting" // registered, not (yet) run by any instance
	StateRunning = "running"
	StateStopped = "stopped" // at a poisoned event, until resumed
)

// worker runs one projection.
type worker struct {
	r       *Runner
	p       Projection
	kind    kind
	name    string
	handles map[string]bool
	prefix  string
	feed    *feed

	// mu serializes live applies with the rebuild swap.
	mu         sync.Mutex
	checkpoint atomic.Uint64
	advanced   *eventstore.Signal
	resume     *eventstore.Signal
	owned      atomic.Bool

	smu        sync.Mutex
	state      string
	errMsg     string
	errPos     uint64
	startHead  uint64 // memory projections: not ready below this
	gen        uint64
	rebuilding bool
	rebuildErr string
	progress   Progress
}

func newWorker(r *Runner, p Projection, k kind) *worker {
	h := map[string]bool{}
	for _, t := range p.Handles() {
		h[t] = true
	}
	w := &worker{r: r, p: p, kind: k, name: p.Name(), handles: h, prefix: tablePrefix(p.Name()),
		advanced: eventstore.NewSignal(), resume: eventstore.NewSignal(), state: StateWaiting}
	w.feed = newFeed(r.cfg.Store, h, w.resume.Wait)
	return w
}

func (w *worker) live() Tables {
	w.smu.Lock()
	defer w.smu.Unlock()
	return w.tables(w.gen, false)
}

// tables names generation gen of this projection's tables, or its shadow
// (the generation a rebuild fills).
func (w *worker) tables(gen uint64, shadow bool) Tables {
	return Tables{prefix: w.prefix, shadow: shadow, gen: gen, dialect: w.r.cfg.DB.Dialect}
}

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

func (w *worker) db() *DB { return w.r.cfg.DB }

func (w *worker) setState(state, msg string, pos uint64) {
	w.smu.Lock()
	w.state, w.errMsg, w.errPos = state, msg, pos
	w.smu.Unlock()
	w.r.metrics.setState(w.name, state)
}

func (w *worker) snapshot() (state, msg string, pos uint64) {
	w.smu.Lock()
	defer w.smu.Unlock()
	return w.state, w.errMsg, w.errPos
}

func (w *worker) advance(pos uint64) {
	for {
		cur := w.checkpoint.Load()
		if pos <= cur || w.checkpoint.CompareAndSwap(cur, pos) {
			break
		}
	}
	w.r.metrics.checkpoint.WithLabelValues(w.name).Set(float64(w.checkpoint.Load()))
	w.advanced.Notify()
}

// loop runs the worker until ctx ends. Its Watermill router lives as long:
// it subscribes to the feed once, and each run (an owned run, a memory
// projection's pass) delivers through it.
func (w *worker) loop(ctx context.Context) {
	router, err := w.newRouter(w.feed, w.poisoned)
	if err != nil {
		w.r.log.Error("projection router not built", "projection", w.name, "err", err)
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	routed := make(chan error, 1)
	go func() { routed <- router.Run(ctx) }()
	defer func() {
		cancel()
		_ = router.Close()
		<-routed
	}()
	select {
	case <-router.Running():
	case err := <-routed:
		w.r.log.Error("projection router stopped", "projection", w.name, "err", err)
		return
	}
	if w.kind == kindMemory {
		w.owned.Store(true)
		w.runMemory(ctx)
		return
	}
	for ctx.Err() == nil {
		lockCtx, release, err := w.r.acquire(ctx, w)
		if err != nil {
			return // ctx ended
		}
		w.owned.Store(true)
		err = w.runOwned(lockCtx)
		w.owned.Store(false)
		release()
		if err != nil && ctx.Err() == nil {
			w.r.log.Error("projection run failed; retrying", "projection", w.name, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(w.r.cfg.LockRetry):
			}
		}
	}
}

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

// handle is the Watermill handler: apply one record (or advance past
// unhandled ones) and store the checkpoint.
func (w *worker) handle(msg *message.Message) error {
	ctx := msg.Context()
	rec, skip, err := decode(msg)
	if err != nil {
		return err
	}
	if w.kind == kindSQL {
		err = w.applySQL(ctx, rec, skip)
	} else {
		if rec.Position <= w.checkpoint.Load() {
			return nil
		}
		if !skip {
			err = w.p.(MemoryProjection).Apply(ctx, rec)
		}
	}
	if err != nil {
		return err
	}
	if st, _, _ := w.snapshot(); st == StateStopped {
		w.setState(StateRunning, "", 0)
		w.r.log.Info("projection resumed", "projection", w.name, "position", rec.Position)
	}
	w.applied(rec)
	return nil
}

func (w *worker) applied(rec eventstore.Record) {
	w.advance(rec.Position)
	w.r.metrics.lagAt(w.name, rec.RecordedAt)
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

// poisoned records that the projection stopped at msg's record. The feed
// holds the message until a resume, so nothing after it is applied.
func (w *worker) poisoned(msg *message.Message, err error) {
	rec, _, _ := decode(msg)
	text := truncate(err.Error(), maxErrorText)
	w.setState(StateStopped, text, rec.Position)
	w.r.log.Error("projection stopped at a poisoned event", "projection", w.name, "position", rec.Position, "type", rec.Type, "err", err)
	if w.kind == kindMemory {
		return // memory state rows are written by the heartbeat
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if dbErr := w.r.state.stop(ctx, w.name, text, rec.Position); dbErr != nil {
		w.r.log.Error("projection stop not recorded", "projection", w.name, "err", dbErr)
	}
}

// heartbeat refreshes ownership, and picks up resume and rebuild requests.
func (w *worker) heartbeat(ctx context.Context, rebuildWG *sync.WaitGroup) error {
	// On SQLite the owner column is the lease: never take it back from an
	// instance that took it over. On PostgreSQL the advisory lock decides.
	req, err := w.r.state.heartbeat(ctx, w.name, w.r.cfg.Instance, w.db().Dialect == Postgres)
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

// ready reports a stopped projection or a memory one still catching up.
func (w *worker) ready() error {
	st, msg, pos := w.snapshot()
	if st == StateStopped {
		return fmt.Errorf("%s stopped at position %d: %s", w.name, pos, msg)
	}
	if w.kind == kindMemory {
		w.smu.Lock()
		target := w.startHead
		w.smu.Unlock()
		if st != StateRunning || w.checkpoint.Load() < target {
			return fmt.Errorf("%s catching up (%d of %d)", w.name, w.checkpoint.Load(), target)
		}
	}
	return nil
}

// waitFor blocks until the checkpoint reaches pos. When another instance
// owns the projection, the stored checkpoint is polled.
func (w *worker) waitFor(ctx context.Context, pos uint64) error {
	for {
		wake := w.advanced.Wait()
		if w.checkpoint.Load() >= pos {
			return nil
		}
		if st, msg, at := w.snapshot(); st == StateStopped && at <= pos {
			return fmt.Errorf("%w: %s at position %d: %s", ErrStopped, w.name, at, msg)
		}
		var (
			poll <-chan time.Time
			t    *time.Timer
		)
		if !w.owned.Load() {
			cp, err := w.r.state.checkpoint(ctx, w.name)
			if err == nil && cp >= pos {
				return nil
			}
			if err != nil && !errors.Is(err, sql.ErrNoRows) && ctx.Err() == nil {
				return err
			}
			t = time.NewTimer(20 * time.Millisecond)
			poll = t.C
		}
		select {
		case <-ctx.Done():
		case <-wake:
		case <-poll:
		}
		// Stopped here, not deferred: a defer per poll would keep every
		// timer of a long wait until waitFor returns.
		if t != nil {
			t.Stop()
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// maxErrorText bounds the error text kept in projection_state, so a
// handler that wraps a whole payload into its error cannot bloat the row.
const maxErrorText = 1000

// truncate cuts s to at most n bytes, on a rune boundary: a cut through a
// multibyte rune would store invalid UTF-8, which PostgreSQL refuses.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}
