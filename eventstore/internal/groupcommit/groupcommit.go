// Package groupcommit is the write path the durable ledger adapters share:
// one writer goroutine drains a queue of pending appends and commits them in
// one transaction per flush, so concurrent appends share one fsync. Each
// append in a batch still succeeds or fails on its own: expected versions are
// checked in memory against the batch's running state, and a batch that the
// database rejects as a whole is retried one append at a time.
//
// Only storage-specific code (how to lock the chain head, read versions and
// insert rows) lives in the adapters, behind Backend and Tx.
package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/authledger/authledger/eventstore"
)

// Backend opens one write transaction per flush.
type Backend interface {
	// Begin starts a transaction that holds the chain head exclusively
	// (BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL) until
	// Commit or Rollback, so several processes keep one chain. It returns
	// the head and the current version of each of streams that has events
	// (absent streams are at version 0), read under that lock. One call
	// lets an adapter pipeline the round trips.
	Begin(ctx context.Context, streams []string) (Tx, eventstore.Head, map[string]uint64, error)
}

// Tx is one flush's transaction.
type Tx interface {
	// Commit inserts recs and commits.
	Commit(ctx context.Context, recs []eventstore.Record) error
	Rollback(ctx context.Context) error
}

// Options tunes the writer.
type Options struct {
	// MaxBatch bounds how many appends one transaction holds.
	MaxBatch int
	// FlushWindow is how long the writer waits for more appends after the
	// first one of a batch; 0 flushes as soon as the writer is free, which
	// already batches whatever queued up during the previous flush.
	FlushWindow time.Duration
	// Now stamps recorded_at; nil means time.Now.
	Now func() time.Time
	// Committed runs after each successful commit (e.g. Signal.Notify).
	Committed func()
	// Batched, if set, runs after each successful commit with the number
	// of appends the transaction held (the group-commit batch size).
	Batched func(appends int)
}

// commitTimeout bounds one flush transaction, lock wait included.
const commitTimeout = 30 * time.Second

// maxBatchBytes stops a batch from growing once its event bodies reach
// this size, so a few large appends do not make one huge transaction.
const maxBatchBytes = 4 << 20

type request struct {
	ctx  context.Context
	p    *eventstore.Prepared
	size int // bytes of data and metadata
	done chan result
}

type result struct {
	recs []eventstore.Record
	err  error
}

// Writer owns the queue and the writer goroutine.
type Writer struct {
	be     Backend
	opt    Options
	queue  chan *request
	mu     sync.RWMutex // guards closed against sends on queue
	closed bool
	exited chan struct{}
}

// New starts the writer goroutine.
func New(be Backend, opt Options) *Writer {
	if opt.MaxBatch <= 0 {
		opt.MaxBatch = 256
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	w := &Writer{be: be, opt: opt, queue: make(chan *request, opt.MaxBatch), exited: make(chan struct{})}
	go w.run()
	return w
}

// Append validates, queues and waits for the flush that commits (or
// rejects) appends. If ctx ends while waiting, Append returns ctx.Err() and
// the append may or may not have been committed, as with any database call.
func (w *Writer) Append(ctx context.Context, appends []eventstore.StreamAppend) ([]eventstore.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Validation and JCS run here, in parallel across callers; the writer
	// only checks versions and hashes envelopes.
	p, err := eventstore.Prepare(appends)
	if err != nil {
		return nil, err
	}
	req := &request{ctx: ctx, p: p, done: make(chan result, 1)}
	for _, a := range p.Appends {
		for _, e := range a.Events {
			req.size += len(e.Data) + len(e.Metadata)
		}
	}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return nil, eventstore.ErrClosed
	}
	select {
	case w.queue <- req:
	case <-ctx.Done():
		w.mu.RUnlock()
		return nil, ctx.Err()
	}
	w.mu.RUnlock()
	select {
	case r := <-req.done:
		return r.recs, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close refuses new appends, commits every queued one, and waits for the
// writer to stop.
func (w *Writer) Close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.queue)
	}
	w.mu.Unlock()
	<-w.exited
}

func (w *Writer) run() {
	defer close(w.exited)
	for {
		first, ok := <-w.queue
		if !ok {
			return
		}
		batch := w.collect(first)
		w.flush(batch)
	}
}

func (w *Writer) collect(first *request) []*request {
	batch := []*request{first}
	size := first.size
	var deadline <-chan time.Time
	if w.opt.FlushWindow > 0 {
		t := time.NewTimer(w.opt.FlushWindow)
		defer t.Stop()
		deadline = t.C
	}
	for len(batch) < w.opt.MaxBatch && size < maxBatchBytes {
		var (
			r  *request
			ok bool
		)
		if deadline == nil {
			select {
			case r, ok = <-w.queue:
			default:
				return batch
			}
		} else {
			select {
			case r, ok = <-w.queue:
			case <-deadline:
				return batch
			}
		}
		if !ok {
			return batch
		}
		batch = append(batch, r)
		size += r.size
	}
	return batch
}

// tracer names the ledger writer's spans (no-ops unless a provider is
// installed).
var tracer = otel.Tracer("github.com/authledger/authledger/eventstore")

// flush commits batch; if the database rejects the whole transaction (for
// example a caller-supplied event id that already exists), each append is
// retried alone so that only the offending one fails.
func (w *Writer) flush(batch []*request) {
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- result{err: err}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	// One span per transaction, linked from every append it carries; each
	// append's own span learns the size of the batch it rode in.
	links := make([]trace.Link, 0, len(live))
	for _, r := range live {
		sp := trace.SpanFromContext(r.ctx)
		sp.SetAttributes(attribute.Int("ledger.batch_size", len(live)))
		links = append(links, trace.Link{SpanContext: sp.SpanContext()})
	}
	// Under the first append's span (the one that opened the batch); the
	// others reach it through their links. Never the caller's context
	// itself: its cancellation must not end the shared transaction.
	parent := trace.ContextWithSpanContext(context.Background(), links[0].SpanContext)
	_, span := tracer.Start(parent, "ledger.commit_batch", trace.WithLinks(links[1:]...),
		trace.WithAttributes(attribute.Int("ledger.batch_size", len(live))))
	defer span.End()
	results, err := w.commit(live)
	if err != nil {
		span.SetStatus(codes.Error, "")
	}
	if err != nil && len(live) > 1 {
		for _, r := range live {
			res, err := w.commit([]*request{r})
			if err != nil {
				res = []result{{err: err}}
			}
			r.done <- res[0]
		}
		return
	}
	for i, r := range live {
		if err != nil {
			r.done <- result{err: err}
			continue
		}
		r.done <- results[i]
	}
}

// commit runs one transaction for reqs. A version conflict fails only its
// own request (results[i].err); a returned error fails them all.
func (w *Writer) commit(reqs []*request) (results []result, err error) {
	// The flush must finish even if the first caller gives up: its
	// neighbours are waiting on the same transaction. The bound keeps a
	// hung database from stalling the writer (and Close) for ever.
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	var streams []string
	seen := map[string]bool{}
	for _, r := range reqs {
		for _, a := range r.p.Appends {
			if !seen[a.Stream] {
				seen[a.Stream] = true
				streams = append(streams, a.Stream)
			}
		}
	}
	tx, head, versions, err := w.be.Begin(ctx, streams)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, tx.Rollback(ctx))
		}
	}()
	now := w.opt.Now()
	results = make([]result, len(reqs))
	var all []eventstore.Record
	for i, r := range reqs {
		if err := eventstore.CheckVersions(versions, r.p.Appends); err != nil {
			results[i].err = err
			continue
		}
		recs := r.p.Seal(head, now, versions)
		for _, rec := range recs {
			versions[rec.Stream] = rec.Version
		}
		last := recs[len(recs)-1]
		head = eventstore.Head{Position: last.Position, Hash: last.Hash, RecordedAt: last.RecordedAt}
		results[i].recs = recs
		all = append(all, recs...)
	}
	if len(all) == 0 {
		return results, tx.Rollback(ctx)
	}
	if err := tx.Commit(ctx, all); err != nil {
		return nil, err
	}
	if w.opt.Committed != nil {
		w.opt.Committed()
	}
	if w.opt.Batched != nil {
		w.opt.Batched(len(reqs))
	}
	return results, nil
}

// Import stores records exactly as they are (positions, times and hashes
// included), for copying a ledger between adapters: each must continue the
// chain at the target's head, with each stream's next version, or nothing
// is written. It takes the same head lock as a flush, so it is safe beside
// a running writer, which then appends after the imported records.
func Import(ctx context.Context, be Backend, recs []eventstore.Record) error {
	if len(recs) == 0 {
		return nil
	}
	var streams []string
	seen := map[string]bool{}
	for _, r := range recs {
		if !seen[r.Stream] {
			seen[r.Stream] = true
			streams = append(streams, r.Stream)
		}
	}
	tx, head, versions, err := be.Begin(ctx, streams)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.Position != head.Position+1 || r.PrevHash != head.Hash {
			_ = tx.Rollback(ctx)
			return fmt.Errorf("%w: position %d does not continue the target's head %d", ErrImportGap, r.Position, head.Position)
		}
		if r.Version != versions[r.Stream]+1 {
			_ = tx.Rollback(ctx)
			return fmt.Errorf("%w: position %d is version %d of %s, the target is at %d", ErrImportGap, r.Position, r.Version, r.Stream, versions[r.Stream])
		}
		versions[r.Stream] = r.Version
		head = eventstore.Head{Position: r.Position, Hash: r.Hash, RecordedAt: r.RecordedAt}
	}
	return tx.Commit(ctx, recs)
}

// ErrImportGap: imported records do not continue the target ledger.
var ErrImportGap = errors.New("groupcommit: imported records do not continue the ledger")
