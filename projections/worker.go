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
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/authledger/authledger/eventstore"
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
	// StateRetrying: a storage fault (connection, disk, lock) keeps the
	// projection at an event; it backs off and resumes by itself.
	StateRetrying = "retrying"
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
	w.feed = newFeed(r.hub, h, w.resume.Wait)
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
			// Retried below: reported retrying, never stopped.
			w.setState(StateRetrying, truncate(err.Error(), maxErrorText), 0)
			w.r.log.Error("projection run failed; retrying", "projection", w.name, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(w.r.cfg.LockRetry):
			}
		}
	}
}

// tracer names the projections' spans (no-ops unless a provider is
// installed).
var tracer = otel.Tracer("github.com/authledger/authledger/projections")

// handle is the Watermill handler: apply one record (or advance past
// unhandled ones) and store the checkpoint.
func (w *worker) handle(msg *message.Message) error {
	ctx := msg.Context()
	rec, skip, err := decode(msg)
	if err != nil {
		return err
	}
	if !skip {
		// A span per applied record (none for the ones it skips): the
		// projection's share of a request's trace happens later, so it
		// starts its own trace, named after the projection.
		var span trace.Span
		ctx, span = tracer.Start(ctx, "projection "+w.name, trace.WithNewRoot(), trace.WithAttributes(
			attribute.String("authledger.projection", w.name), attribute.Int64("ledger.position", int64(rec.Position)),
			attribute.String("ledger.event_type", rec.Type)))
		defer func() {
			if err != nil {
				span.SetStatus(codes.Error, "")
			}
			span.End()
		}()
	}
	if w.kind == kindSQL {
		err = w.applySQL(ctx, rec, skip)
	} else {
		var again bool
		again, err = w.applyMemory(ctx, rec, skip)
		if again {
			return nil
		}
	}
	if err != nil {
		return err
	}
	if st, _, _ := w.snapshot(); st == StateStopped || st == StateRetrying {
		w.setState(StateRunning, "", 0)
		w.r.log.Info("projection resumed", "projection", w.name, "position", rec.Position, "was", st)
	}
	w.applied(rec)
	return nil
}

func (w *worker) applied(rec eventstore.Record) {
	w.advance(rec.Position)
	w.r.metrics.lagAt(w.name, rec.RecordedAt)
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

// retrying records that a storage fault keeps the projection at msg's
// record. The row is written when the read-model database takes it (a
// busy SQLite, a full disk freeing up); otherwise the heartbeat writes the
// state once the database answers again.
func (w *worker) retrying(msg *message.Message, err error) {
	rec, _, _ := decode(msg)
	text := truncate(err.Error(), maxErrorText)
	st, _, _ := w.snapshot()
	w.setState(StateRetrying, text, rec.Position)
	if st != StateRetrying {
		w.r.log.Warn("projection retrying a storage fault", "projection", w.name, "position", rec.Position, "type", rec.Type, "err", err)
	}
	if w.kind == kindMemory {
		return // memory state rows are written by the metrics loop
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = w.r.state.setState(ctx, w.name, StateRetrying, text, rec.Position)
}

// unreachable reports, while this instance waits for the projection's
// lock, that a storage fault keeps it from the read-model database: the
// projection is retrying (at no known event), not waiting for a peer.
func (w *worker) unreachable(err error) {
	if !IsTransient(err) {
		return
	}
	if st, _, _ := w.snapshot(); st != StateStopped {
		w.setState(StateRetrying, truncate("read-model database: "+err.Error(), maxErrorText), 0)
	}
}

// reachable undoes unreachable once the database answers again and
// another instance holds the lock.
func (w *worker) reachable() {
	if st, _, _ := w.snapshot(); st == StateRetrying {
		w.setState(StateWaiting, "", 0)
	}
}

// ready reports a stopped or retrying projection, or a memory one still
// catching up.
func (w *worker) ready() error {
	st, msg, pos := w.snapshot()
	if st == StateStopped {
		return fmt.Errorf("%s stopped at position %d: %s", w.name, pos, msg)
	}
	if st == StateRetrying {
		return fmt.Errorf("%s retrying%s: %s", w.name, atPosition(pos), msg)
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
			// A storage fault (the read-model database restarting) is
			// polled through, like the owner retries it.
			if err != nil && !errors.Is(err, sql.ErrNoRows) && !IsTransient(err) && ctx.Err() == nil {
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

// atPosition is " at position N", or nothing for a fault at no known
// event (pos 0).
func atPosition(pos uint64) string {
	if pos == 0 {
		return ""
	}
	return fmt.Sprintf(" at position %d", pos)
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
