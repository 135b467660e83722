// Package esdb keeps the ledger in EventStoreDB or KurrentDB through
// EventStore-Client-Go v4. Every event goes to one ledger stream whose
// revision r is position r+1; an append's expected revision is the chain
// head, which EventStoreDB enforces atomically, so one append carries a
// whole command across aggregates and two instances never fork the chain.
// Aggregate streams are an in-memory index rebuilt from the ledger stream
// (docs/esdb.md says why and what it costs).
package esdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/internal/groupcommit"
)

// DefaultLedgerStream is the stream that holds the ledger.
const DefaultLedgerStream = "authledger-ledger"

// Options tunes the adapter. The zero value is the production default.
type Options struct {
	// LedgerStream names the ledger stream (default DefaultLedgerStream;
	// the connection string's ledger_stream parameter sets it too).
	LedgerStream string
	// CallTimeout bounds every call to the server (default 10s).
	CallTimeout time.Duration
	// MaxBatch bounds how many appends share one server append (default 256).
	MaxBatch int
	// Now stamps recorded_at; nil means time.Now.
	Now func() time.Time
	// Logger receives subscription drops and reconnects (default slog.Default()).
	Logger *slog.Logger
	// MustExist refuses an empty ledger stream (ErrNoLedger), for
	// read-only commands that must not report on a ledger that is not there.
	MustExist bool
}

// ErrNoLedger: MustExist was set and the ledger stream holds no event.
var ErrNoLedger = errors.New("esdb: no ledger in that stream")

func (o Options) withDefaults() Options {
	if o.LedgerStream == "" {
		o.LedgerStream = DefaultLedgerStream
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 10 * time.Second
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// readPage is how many ledger events one read asks for.
const readPage = 1024

// Store is the EventStoreDB eventstore.Store.
type Store struct {
	c   *esdb.Client
	opt Options
	gc  *groupcommit.Writer
	sig *eventstore.Signal

	mu       sync.RWMutex // guards the index
	head     eventstore.Head
	versions map[string]uint64
	byStream map[string][]uint64 // positions of each aggregate stream's events
	// catchMu serialises catch-up reads so two never apply the same page.
	catchMu sync.Mutex
	// stale says another writer may have moved the head since the index
	// last read it: set when an append loses the expected-revision race,
	// cleared by the catch-up the next flush does first.
	stale atomic.Bool

	stopFollow context.CancelFunc
	followDone chan struct{}
	closeOnce  sync.Once
	closeErr   error
}

var _ eventstore.Store = (*Store)(nil)

// Open connects with an esdb:// (or esdb+discover://) connection string,
// reads the ledger stream into the index and follows it.
func Open(ctx context.Context, connection string, opt Options) (*Store, error) {
	conn, stream, err := splitConnection(connection)
	if err != nil {
		return nil, err
	}
	if opt.LedgerStream == "" {
		opt.LedgerStream = stream
	}
	opt = opt.withDefaults()
	cfg, err := esdb.ParseConnectionString(conn)
	if err != nil {
		// The client's error may quote the connection string, password
		// included: name the setting, not the value.
		return nil, errors.New("esdb: cannot parse the connection string (see docs/esdb.md)")
	}
	// The client prints to stdout by default; its chatter goes to slog at
	// debug (its errors are returned to us and logged where they matter).
	log := opt.Logger
	cfg.Logger = func(level esdb.LogLevel, format string, args ...any) {
		log.Debug("esdb client: "+fmt.Sprintf(format, args...), "level", level)
	}
	c, err := esdb.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("esdb: client: %w", err)
	}
	s := &Store{c: c, opt: opt, sig: eventstore.NewSignal(), versions: map[string]uint64{}, byStream: map[string][]uint64{},
		head: eventstore.Head{Hash: eventstore.GenesisHash}}
	if err := s.catchUp(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	if opt.MustExist && s.head.Position == 0 {
		_ = c.Close()
		return nil, fmt.Errorf("%w %q", ErrNoLedger, opt.LedgerStream)
	}
	s.gc = groupcommit.New(backend{s: s}, groupcommit.Options{MaxBatch: opt.MaxBatch, Now: opt.Now})
	fctx, cancel := context.WithCancel(context.Background())
	s.stopFollow, s.followDone = cancel, make(chan struct{})
	go s.follow(fctx)
	return s, nil
}

// splitConnection takes authledger's own ledger_stream parameter out of
// the connection string, since the client refuses settings it does not know.
func splitConnection(raw string) (conn, stream string, err error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "esdb" && u.Scheme != "esdb+discover") {
		return "", "", errors.New("esdb: want an esdb:// or esdb+discover:// connection string")
	}
	q := u.Query()
	stream = q.Get("ledger_stream")
	q.Del("ledger_stream")
	u.RawQuery = q.Encode()
	return u.String(), stream, nil
}

func (s *Store) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opt.CallTimeout)
}

// envelope is what the ledger keeps beside EventStoreDB's own fields, in
// the event's custom metadata. The event's metadata is a string so that it
// stays byte-for-byte what was hashed.
type envelope struct {
	Stream     string `json:"stream"`
	Version    uint64 `json:"version"`
	RecordedAt string `json:"recorded_at"`
	PrevHash   string `json:"prev_hash"`
	Hash       string `json:"hash"`
	Metadata   string `json:"metadata"`
}

func toEventData(r eventstore.Record) (esdb.EventData, error) {
	id, err := uuid.Parse(r.ID)
	if err != nil {
		return esdb.EventData{}, fmt.Errorf("esdb: event id %q: %w", r.ID, err)
	}
	env, err := json.Marshal(envelope{Stream: r.Stream, Version: r.Version, RecordedAt: eventstore.FormatTime(r.RecordedAt),
		PrevHash: r.PrevHash, Hash: r.Hash, Metadata: string(r.Metadata)})
	if err != nil {
		return esdb.EventData{}, err
	}
	return esdb.EventData{EventID: id, EventType: r.Type, ContentType: esdb.ContentTypeJson, Data: r.Data, Metadata: env}, nil
}

func fromRecorded(e *esdb.RecordedEvent) (eventstore.Record, error) {
	var env envelope
	if err := json.Unmarshal(e.UserMetadata, &env); err != nil {
		return eventstore.Record{}, fmt.Errorf("esdb: %s revision %d holds no ledger envelope: %w", e.StreamID, e.EventNumber, err)
	}
	at, err := eventstore.ParseTime(env.RecordedAt)
	if err != nil {
		return eventstore.Record{}, fmt.Errorf("esdb: %s revision %d: recorded_at: %w", e.StreamID, e.EventNumber, err)
	}
	return eventstore.Record{Position: e.EventNumber + 1, Stream: env.Stream, Version: env.Version, ID: e.EventID.String(), Type: e.EventType,
		RecordedAt: at, Data: json.RawMessage(e.Data), Metadata: json.RawMessage(env.Metadata), PrevHash: env.PrevHash, Hash: env.Hash}, nil
}

// isCode reports whether err carries the client's error code. The client's
// own esdb.FromError only recognises an unwrapped *esdb.Error and reports
// ok only when there is no error at all, so it is not used.
func isCode(err error, code esdb.ErrorCode) bool {
	var e *esdb.Error
	return errors.As(err, &e) && e.Code() == code
}

// readLedger reads ledger events with position > after, up to limit.
func (s *Store) readLedger(ctx context.Context, after uint64, limit int) ([]eventstore.Record, error) {
	cctx, cancel := s.call(ctx)
	defer cancel()
	rs, err := s.c.ReadStream(cctx, s.opt.LedgerStream, esdb.ReadStreamOptions{From: esdb.Revision(after)}, uint64(limit))
	if err != nil {
		return nil, s.wrap(ctx, "read", err)
	}
	defer rs.Close()
	var out []eventstore.Record
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if isCode(err, esdb.ErrorCodeResourceNotFound) {
			return out, nil // no ledger stream yet: an empty ledger
		}
		if err != nil {
			return nil, s.wrap(ctx, "read", err)
		}
		r, err := fromRecorded(ev.Event)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
}

// wrap classifies a failed call: the caller's own context ending is its
// error (the client reports it as a gRPC status, not as ctx.Err()); any
// other failure, our call deadline included, is an outage.
func (s *Store) wrap(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return eventstore.Unavailable(fmt.Errorf("esdb: %s: %w", op, err))
}

// ErrBrokenLedgerStream: the ledger stream holds an event that does not
// continue the chain the index holds (written by something other than
// this adapter). Nothing is appended after it.
var ErrBrokenLedgerStream = errors.New("esdb: the ledger stream does not continue the chain")

// catchUp reads the ledger stream from the index head to its end and
// applies what it finds, so the index agrees with the server.
func (s *Store) catchUp(ctx context.Context) error {
	s.catchMu.Lock()
	defer s.catchMu.Unlock()
	grew := false
	for {
		s.mu.RLock()
		after := s.head.Position
		s.mu.RUnlock()
		recs, err := s.readLedger(ctx, after, readPage)
		if err != nil {
			return err
		}
		if err := s.apply(recs); err != nil {
			return err
		}
		grew = grew || len(recs) > 0
		if len(recs) < readPage {
			if grew {
				s.sig.Notify()
			}
			return nil
		}
	}
}

// apply adds records to the index in order; ones already applied (a
// subscription repeating what a catch-up read) are skipped.
func (s *Store) apply(recs []eventstore.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		if r.Position <= s.head.Position {
			continue
		}
		if r.Position != s.head.Position+1 || r.PrevHash != s.head.Hash {
			return fmt.Errorf("esdb: ledger stream revision %d does not follow position %d: %w", r.Position-1, s.head.Position, ErrBrokenLedgerStream)
		}
		s.head = eventstore.Head{Position: r.Position, Hash: r.Hash, RecordedAt: r.RecordedAt}
		s.versions[r.Stream] = r.Version
		s.byStream[r.Stream] = append(s.byStream[r.Stream], r.Position)
	}
	return nil
}

// follow keeps the index current with appends by other instances through
// a catch-up subscription to the ledger stream, resubscribing from the
// index head with capped backoff when the server or the connection drops.
func (s *Store) follow(ctx context.Context) {
	defer close(s.followDone)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.subscribeOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		s.opt.Logger.Warn("esdb: ledger subscription dropped, resubscribing", "err", err, "retry_in", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, 5*time.Second)
		if err == nil {
			backoff = 100 * time.Millisecond
		}
	}
}

func (s *Store) subscribeOnce(ctx context.Context) error {
	s.mu.RLock()
	var from esdb.StreamPosition = esdb.Start{}
	if s.head.Position > 0 {
		from = esdb.Revision(s.head.Position - 1) // subscriptions start after it
	}
	s.mu.RUnlock()
	sub, err := s.c.SubscribeToStream(ctx, s.opt.LedgerStream, esdb.SubscribeToStreamOptions{From: from})
	if err != nil {
		return err
	}
	defer sub.Close()
	for {
		ev := sub.Recv()
		switch {
		case ev.SubscriptionDropped != nil:
			return ev.SubscriptionDropped.Error
		case ev.EventAppeared != nil && ev.EventAppeared.Event != nil:
			r, err := fromRecorded(ev.EventAppeared.Event)
			if err != nil {
				return err
			}
			if err := s.apply([]eventstore.Record{r}); err != nil {
				// A gap (events appended while resubscribing): read them.
				if cerr := s.catchUp(ctx); cerr != nil {
					return cerr
				}
			}
			s.sig.Notify()
		}
	}
}

// errHeadMoved: another instance appended between the index's head and
// this append; the append is decided again on the new head.
var errHeadMoved = errors.New("esdb: the ledger head moved")

// Append commits appends through the group-commit writer; a lost race for
// the head is decided again on the new head, a bounded number of times.
func (s *Store) Append(ctx context.Context, appends ...eventstore.StreamAppend) ([]eventstore.Record, error) {
	for attempt := 0; ; attempt++ {
		recs, err := s.gc.Append(ctx, appends)
		if !errors.Is(err, errHeadMoved) || attempt == 20 {
			return recs, err
		}
		time.Sleep(time.Duration(attempt+1) * time.Millisecond)
	}
}

type backend struct{ s *Store }

// Begin answers from the index; the expected revision of the commit makes
// that answer binding. Only after a lost race (another instance appended)
// does it read the ledger stream first: the subscription keeps the index
// current otherwise, so a flush costs one round trip, not two.
func (b backend) Begin(ctx context.Context, streams []string) (groupcommit.Tx, eventstore.Head, map[string]uint64, error) {
	if b.s.stale.Swap(false) {
		if err := b.s.catchUp(ctx); err != nil {
			b.s.stale.Store(true)
			return nil, eventstore.Head{}, nil, err
		}
	}
	b.s.mu.RLock()
	defer b.s.mu.RUnlock()
	versions := make(map[string]uint64, len(streams))
	for _, st := range streams {
		if v, ok := b.s.versions[st]; ok {
			versions[st] = v
		}
	}
	return tx{s: b.s, head: b.s.head.Position}, b.s.head, versions, nil
}

type tx struct {
	s    *Store
	head uint64
}

func (t tx) Commit(ctx context.Context, recs []eventstore.Record) error {
	events := make([]esdb.EventData, len(recs))
	for i, r := range recs {
		ed, err := toEventData(r)
		if err != nil {
			return err
		}
		events[i] = ed
	}
	var expected esdb.ExpectedRevision = esdb.NoStream{}
	if t.head > 0 {
		expected = esdb.Revision(t.head - 1)
	}
	cctx, cancel := t.s.call(ctx)
	defer cancel()
	_, err := t.s.c.AppendToStream(cctx, t.s.opt.LedgerStream, esdb.AppendToStreamOptions{ExpectedRevision: expected}, events...)
	switch {
	case isCode(err, esdb.ErrorCodeWrongExpectedVersion):
		t.s.stale.Store(true)
		return errHeadMoved
	case err != nil:
		// The append may or may not have been written: read before the next.
		t.s.stale.Store(true)
		return t.s.wrap(ctx, "append", err)
	}
	if err := t.s.apply(recs); err != nil {
		return err
	}
	t.s.sig.Notify()
	return nil
}

func (t tx) Rollback(context.Context) error { return nil }

// ReadStream reads an aggregate's events from the ledger stream, one read
// per contiguous run of positions.
func (s *Store) ReadStream(ctx context.Context, stream string) ([]eventstore.Record, error) {
	s.mu.RLock()
	positions := append([]uint64(nil), s.byStream[stream]...)
	s.mu.RUnlock()
	out := make([]eventstore.Record, 0, len(positions))
	for i := 0; i < len(positions); {
		j := i + 1
		for j < len(positions) && positions[j] == positions[j-1]+1 && j-i < readPage {
			j++
		}
		recs, err := s.readLedger(ctx, positions[i]-1, j-i)
		if err != nil {
			return nil, err
		}
		if len(recs) != j-i {
			return nil, fmt.Errorf("esdb: stream %s: ledger positions %d-%d read %d events: %w", stream, positions[i], positions[j-1], len(recs), ErrBrokenLedgerStream)
		}
		out = append(out, recs...)
		i = j
	}
	return out, nil
}

func (s *Store) ReadAll(ctx context.Context, after uint64, limit int) ([]eventstore.Record, error) {
	if limit <= 0 || limit > readPage {
		limit = readPage
	}
	return s.readLedger(ctx, after, limit)
}

// Head catches up first, so a head read on one instance names appends made
// by another.
func (s *Store) Head(ctx context.Context) (eventstore.Head, error) {
	if err := s.catchUp(ctx); err != nil {
		return eventstore.Head{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.head, nil
}

// Subscribe reads the ledger stream after the checkpoint, then waits for
// the signal that this instance's commits and the ledger subscription
// raise. The safety wake-up bounds the delay if a subscription stalls
// without dropping (a half-open connection after a node restart).
func (s *Store) Subscribe(ctx context.Context, after uint64, h eventstore.Handler) error {
	return eventstore.Follow(ctx, s.ReadAll, s.sig, feedSafety, after, h)
}

// feedSafety is the feed's longest wait without looking at the server.
const feedSafety = time.Second

// Streams lists the aggregate streams in the index, for diagnostics.
func (s *Store) Streams() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.byStream))
	for k := range s.byStream {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.gc.Close()
		s.stopFollow()
		<-s.followDone
		err := s.c.Close()
		if err != nil && !strings.Contains(err.Error(), "closed") {
			s.closeErr = err
		}
	})
	return s.closeErr
}

// Import implements eventstore.Importer for ledger copies.
func (s *Store) Import(ctx context.Context, recs []eventstore.Record) error {
	return groupcommit.Import(ctx, backend{s: s}, recs)
}
