package commands

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/authledger/authledger/eventstore"
)

// Aggregate is what every write model in domain/ exposes: the stream it
// lives in, the version it was loaded at (the expected version of its next
// append) and the events it decided since.
type Aggregate[E typedEvent] interface {
	Stream() string
	Version() uint64
	Pending() []E
}

// Changed is an aggregate's decision, ready for AppendAll: its stream, the
// version the decision was made on, and the events decided. Build one with
// Changes (an aggregate) or Record (a stream nothing decides on).
type Changed struct {
	stream   string
	expected eventstore.ExpectedVersion
	events   []typedEvent
}

// Changes is the decision of a, appended at the exact version a was
// loaded at (no stream when a is new).
func Changes[E typedEvent](a Aggregate[E]) Changed {
	p := a.Pending()
	evs := make([]typedEvent, len(p))
	for i, e := range p {
		evs[i] = e
	}
	exp := eventstore.Exact(a.Version())
	if a.Version() == 0 {
		exp = eventstore.NoStream()
	}
	return Changed{stream: a.Stream(), expected: exp, events: evs}
}

// Record appends events to a stream no aggregate decides on (an audit
// trail such as refresh rejections), at any version.
func Record(stream string, events ...typedEvent) Changed {
	return Changed{stream: stream, expected: eventstore.Any(), events: events}
}

// empty reports whether the decision appends nothing.
func (c Changed) empty() bool { return len(c.events) == 0 }

// AppendAll commits every non-empty decision in one atomic append, each
// stream at its expected version, with meta on every event. It returns the
// ledger position of the last event appended (0 when nothing was).
func AppendAll(ctx context.Context, store eventstore.Store, meta Metadata, changes ...Changed) (_ uint64, err error) {
	ctx, span := tracer.Start(ctx, "ledger.append")
	defer func() {
		if err != nil {
			span.SetAttributes(attribute.String("error.type", fmt.Sprintf("%T", err)))
			span.SetStatus(codes.Error, "")
		}
		span.End()
	}()
	appends := make([]eventstore.StreamAppend, 0, len(changes))
	for _, c := range changes {
		if c.empty() {
			continue
		}
		evs, err := encodeTyped(c.events, meta)
		if err != nil {
			return 0, err
		}
		appends = append(appends, eventstore.StreamAppend{Stream: c.stream, Expected: c.expected, Events: evs})
	}
	if len(appends) == 0 {
		return 0, nil
	}
	events := 0
	for _, a := range appends {
		events += len(a.Events)
	}
	if span.IsRecording() {
		span.SetAttributes(attribute.Int("ledger.streams", len(appends)), attribute.Int("ledger.events", events))
	}
	recs, err := store.Append(ctx, appends...)
	if err != nil {
		return 0, err
	}
	return recs[len(recs)-1].Position, nil
}

// maxConflictAttempts bounds Update's decisions after lost optimistic
// concurrency races: a loser reloads and decides again on the newer state,
// which usually makes its decision unnecessary (the token is spent, the
// ring already rotated) or refuses it.
const maxConflictAttempts = 4

// ErrKeptConflicting: Update lost the race on every attempt. It wraps
// eventstore.ErrWrongExpectedVersion.
var ErrKeptConflicting = fmt.Errorf("commands: the stream kept changing: %w", eventstore.ErrWrongExpectedVersion)

// Cache keeps aggregates as this instance last committed them, so a hot
// path need not read its stream. Repository trusts a cached aggregate only
// for decisions whose append wins: the expected version proves the cached
// state was the ledger's.
type Cache[ID any, A any] interface {
	Get(id ID) (A, bool)
	// Put stores a's state with its pending events applied.
	Put(a A)
	Drop(id ID)
}

// Repository loads one kind of aggregate from its stream and appends what
// it decides. Every use case reads and writes its aggregates through one.
type Repository[ID any, A Aggregate[E], E typedEvent] struct {
	store    eventstore.Store
	decode   func(typ string, data []byte) (E, error)
	load     func(id ID, events []E) A
	cache    Cache[ID, A]
	attempts int
	name     string // "update <aggregate type>", the span name of Update
}

// NewRepository reads streams of store with decode (the aggregate
// package's codec) and folds them with load (the aggregate's Load).
func NewRepository[ID any, A Aggregate[E], E typedEvent](store eventstore.Store, decode func(string, []byte) (E, error), load func(ID, []E) A) *Repository[ID, A, E] {
	return &Repository[ID, A, E]{store: store, decode: decode, load: load, attempts: maxConflictAttempts, name: "update " + aggregateName[A]()}
}

// WithAttempts returns a copy of r whose Update decides up to n times
// before ErrKeptConflicting: for aggregates that several writers change at
// once on purpose (operators on one client), where each loser must still
// land.
func (r *Repository[ID, A, E]) WithAttempts(n int) *Repository[ID, A, E] {
	cp := *r
	cp.attempts = max(n, 1)
	return &cp
}

// conflictPause is the wait before deciding again after a lost race: a
// random pause whose bound doubles with each loss (1 ms, 2 ms, … at most
// 32 ms), so writers that collided spread out instead of colliding again.
func conflictPause(ctx context.Context, lost int) error {
	bound := time.Millisecond << min(lost-1, 5)
	t := time.NewTimer(rand.N(bound))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// WithCache returns a copy of r that consults c before reading a stream in
// Update.
func (r *Repository[ID, A, E]) WithCache(c Cache[ID, A]) *Repository[ID, A, E] {
	cp := *r
	cp.cache = c
	return &cp
}

// Store is the ledger r reads and appends to.
func (r *Repository[ID, A, E]) Store() eventstore.Store { return r.store }

// Load reads id's stream from the ledger (never the cache).
func (r *Repository[ID, A, E]) Load(ctx context.Context, id ID) (A, error) {
	stream := r.load(id, nil).Stream()
	es, err := readEvents(ctx, r.store, stream, r.decode)
	if err != nil {
		var zero A
		return zero, err
	}
	a := r.load(id, es)
	if a.Version() != uint64(len(es)) {
		var zero A
		return zero, fmt.Errorf("load %s: version %d after %d events", stream, a.Version(), len(es))
	}
	return a, nil
}

// Decide is a use case's decision on an aggregate: it calls the
// aggregate's decision methods and returns the other aggregates' decisions
// that must commit in the same append (a domain rule such as "a revoked
// family ends its session"), or an error that stops the update.
type Decide[A any] func(a A) (also []Changed, err error)

// Committed is the outcome of Update: the aggregate with its decision
// applied, and the ledger position of the append (0 if nothing was
// decided).
type Committed[A any] struct {
	Aggregate A
	Position  uint64
}

// Update loads id, lets decide decide, and appends the aggregate's pending
// events with those decide returned, in one atomic append. On a
// concurrency conflict it reloads and decides again, up to
// maxConflictAttempts times, then returns ErrKeptConflicting.
func (r *Repository[ID, A, E]) Update(ctx context.Context, id ID, meta Metadata, decide Decide[A]) (_ Committed[A], err error) {
	ctx, end := startCommand(ctx, r.name)
	defer func() { end(err) }()
	if r.cache != nil {
		if a, ok := r.cache.Get(id); ok {
			if out, won, err := r.tryCached(ctx, a, meta, decide); won {
				return out, err
			}
			r.cache.Drop(id)
		}
	}
	for attempt := 1; ; attempt++ {
		a, err := r.Load(ctx, id)
		if err != nil {
			return Committed[A]{}, err
		}
		also, err := decide(a)
		if err != nil {
			return Committed[A]{Aggregate: a}, err
		}
		pos, err := AppendAll(ctx, r.store, meta, append([]Changed{Changes[E](a)}, also...)...)
		if errors.Is(err, eventstore.ErrWrongExpectedVersion) {
			if attempt < r.attempts {
				if perr := conflictPause(ctx, attempt); perr != nil {
					return Committed[A]{Aggregate: a}, perr
				}
				continue
			}
			return Committed[A]{Aggregate: a}, ErrKeptConflicting
		}
		if err != nil {
			return Committed[A]{Aggregate: a}, err
		}
		if r.cache != nil {
			r.cache.Put(a)
		}
		return Committed[A]{Aggregate: a, Position: pos}, nil
	}
}

// aggregateName is A's type name (refreshtoken.Family), for span names.
func aggregateName[A any]() string {
	return strings.TrimPrefix(fmt.Sprintf("%T", *new(A)), "*")
}

// tryCached decides on a cached aggregate. won is true only when the
// decision appended and the append won; any other outcome (an error, a
// decision that appends nothing, a conflict) must be decided again on a
// fresh load, because a stale cache could wrongly refuse a request.
func (r *Repository[ID, A, E]) tryCached(ctx context.Context, a A, meta Metadata, decide Decide[A]) (Committed[A], bool, error) {
	also, err := decide(a)
	if err != nil || len(a.Pending()) == 0 {
		return Committed[A]{}, false, nil
	}
	pos, err := AppendAll(ctx, r.store, meta, append([]Changed{Changes[E](a)}, also...)...)
	if errors.Is(err, eventstore.ErrWrongExpectedVersion) {
		return Committed[A]{}, false, nil
	}
	if err == nil {
		r.cache.Put(a)
	}
	return Committed[A]{Aggregate: a, Position: pos}, true, err
}
