package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authledger/authledger/eventstore"
)

// Features says which optional behaviours an adapter has.
type Features struct {
	// Durable: the ledger survives Close, and Factory.Open with the same
	// name reopens it.
	Durable bool
	// UniqueIDs: an event id already in the ledger is refused.
	UniqueIDs bool
}

// Factory opens ledgers for the suite.
type Factory struct {
	// Open returns a store on the ledger called name, creating it empty on
	// first use; for a durable adapter a second Open of the same name
	// (after Close) reopens the same ledger. Open registers its own
	// cleanup; Close may then run twice.
	Open func(t *testing.T, name string) eventstore.Store
	// OpenWithClock, when set, opens a fresh ledger whose recorded_at
	// comes from now; the suite uses it to append the worked example of
	// docs/ledger-format.md and compare hashes.
	OpenWithClock func(t *testing.T, name string, now func() time.Time) eventstore.Store
}

// Run runs the contract suite.
func Run(t *testing.T, f Features, factory Factory) {
	s := suite{f: f, factory: factory}
	for _, c := range []struct {
		name string
		run  func(t *testing.T, st eventstore.Store)
	}{
		{"an empty ledger has head zero and the genesis hash", s.emptyLedger},
		{"a stale expected version writes nothing", s.staleExpectedVersion},
		{"no-stream, exact and any expectations hold as documented", s.expectations},
		{"a multi-stream append is all-or-nothing", s.multiStreamAtomic},
		{"a multi-stream append gets consecutive positions in order", s.multiStreamOrder},
		{"32 concurrent writers keep positions gapless and the chain valid", s.concurrentWriters},
		{"a conflicting append does not fail its concurrent neighbours", s.conflictIsolated},
		{"read stream returns one stream in version order", s.readStream},
		{"read all pages in position order and head names the last record", s.readAllPages},
		{"data and metadata are stored verbatim", s.verbatim},
		{"the feed catches up, then follows live appends", s.feedFollows},
		{"a handler error stops the feed and is returned", s.feedHandlerError},
		{"bad input is rejected as an invalid event and writes nothing", s.badInput},
		{"an import keeps positions, times and hashes and refuses a gap", s.importKeepsRecords},
		{"an integer beyond ±2^53 is refused by its path and writes nothing", s.unsafeInteger},
		{"append after close is refused", s.appendAfterClose},
		{"recorded_at has microsecond precision in UTC", s.recordedAt},
		{"ids are lower-case UUIDv7 and a supplied id is kept", s.ids},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, s.open(t, ""))
		})
	}
	t.Run("the feed resumes after a restart from a checkpoint with no gap or duplicate", func(t *testing.T) {
		if !f.Durable {
			t.Skip("adapter is not durable")
		}
		s.feedResumes(t)
	})
	t.Run("the worked example of docs/ledger-format.md hashes the same when appended", func(t *testing.T) {
		if factory.OpenWithClock == nil {
			t.Skip("factory cannot set the clock")
		}
		s.workedExample(t)
	})
	t.Run("close commits every queued append and refuses the rest", func(t *testing.T) {
		if !f.Durable {
			t.Skip("adapter is not durable")
		}
		s.closeDrains(t)
	})
	t.Run("an id already in the ledger fails only its own append", func(t *testing.T) {
		if !f.UniqueIDs {
			t.Skip("adapter does not enforce unique ids")
		}
		s.duplicateID(t, s.open(t, ""))
	})
}

type suite struct {
	f       Features
	factory Factory
}

var unsafeName = regexp.MustCompile(`[^a-z0-9]+`)

// open opens the ledger of the current subtest, suffix telling apart
// several ledgers of one subtest.
func (s suite) open(t *testing.T, suffix string) eventstore.Store {
	t.Helper()
	name := strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(t.Name()), "_"), "_")
	if len(name) > 80 {
		name = name[len(name)-80:]
	}
	return s.factory.Open(t, name+suffix)
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func ev(typ string, data string) eventstore.Event {
	return eventstore.Event{Type: typ, Data: json.RawMessage(data)}
}

func events(n int, typ string) []eventstore.Event {
	out := make([]eventstore.Event, n)
	for i := range out {
		out[i] = ev(typ, fmt.Sprintf(`{"n":%d}`, i))
	}
	return out
}

func mustAppend(t *testing.T, st eventstore.Store, appends ...eventstore.StreamAppend) []eventstore.Record {
	t.Helper()
	recs, err := st.Append(ctxFor(t), appends...)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return recs
}

func readAll(t *testing.T, st eventstore.Store) []eventstore.Record {
	t.Helper()
	recs, err := st.ReadAll(ctxFor(t), 0, 0)
	if err != nil {
		t.Fatalf("read all: %v", err)
	}
	return recs
}

func checkChain(t *testing.T, st eventstore.Store) []eventstore.Record {
	t.Helper()
	recs := readAll(t, st)
	if err := CheckChain(recs); err != nil {
		t.Fatalf("chain: %v", err)
	}
	h, err := st.Head(ctxFor(t))
	if err != nil {
		t.Fatalf("head: %v", err)
	}
	want := eventstore.Head{Hash: eventstore.GenesisHash}
	if n := len(recs); n > 0 {
		want = eventstore.Head{Position: recs[n-1].Position, Hash: recs[n-1].Hash, RecordedAt: recs[n-1].RecordedAt}
	}
	if h.Position != want.Position || h.Hash != want.Hash || !h.RecordedAt.Equal(want.RecordedAt) {
		t.Fatalf("head = %+v, want %+v", h, want)
	}
	return recs
}

func head(t *testing.T, st eventstore.Store) eventstore.Head {
	t.Helper()
	h, err := st.Head(ctxFor(t))
	if err != nil {
		t.Fatalf("head: %v", err)
	}
	return h
}

func streamLen(t *testing.T, st eventstore.Store, stream string) int {
	t.Helper()
	recs, err := st.ReadStream(ctxFor(t), stream)
	if err != nil {
		t.Fatalf("read stream %q: %v", stream, err)
	}
	return len(recs)
}

func wantConflict(t *testing.T, err error, stream string, actual uint64) {
	t.Helper()
	if !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
		t.Fatalf("err = %v, want ErrWrongExpectedVersion", err)
	}
	var vc *eventstore.VersionConflictError
	if !errors.As(err, &vc) {
		t.Fatalf("err = %v, want *VersionConflictError", err)
	}
	if vc.Stream != stream || vc.Actual != actual {
		t.Fatalf("conflict on %q at %d, want %q at %d", vc.Stream, vc.Actual, stream, actual)
	}
}

func (suite) emptyLedger(t *testing.T, st eventstore.Store) {
	h := head(t, st)
	if h.Position != 0 || h.Hash != eventstore.GenesisHash {
		t.Fatalf("head = %+v, want position 0 and the genesis hash", h)
	}
	if recs := readAll(t, st); len(recs) != 0 {
		t.Fatalf("read all on an empty ledger: %d records", len(recs))
	}
	if n := streamLen(t, st, "nobody"); n != 0 {
		t.Fatalf("unknown stream has %d records", n)
	}
}

func (suite) staleExpectedVersion(t *testing.T, st eventstore.Store) {
	mustAppend(t, st, eventstore.StreamAppend{Stream: "session-1", Expected: eventstore.NoStream(), Events: events(2, "Started")})
	before := head(t, st)
	_, err := st.Append(ctxFor(t), eventstore.StreamAppend{Stream: "session-1", Expected: eventstore.Exact(1), Events: events(1, "Ended")})
	wantConflict(t, err, "session-1", 2)
	var vc *eventstore.VersionConflictError
	errors.As(err, &vc)
	if vc.Expected != eventstore.Exact(1) {
		t.Fatalf("conflict expected = %v, want 1", vc.Expected)
	}
	if after := head(t, st); after.Position != before.Position || after.Hash != before.Hash {
		t.Fatalf("head moved from %+v to %+v", before, after)
	}
	if n := streamLen(t, st, "session-1"); n != 2 {
		t.Fatalf("stream has %d events, want 2", n)
	}
	checkChain(t, st)
}

func (suite) expectations(t *testing.T, st eventstore.Store) {
	mustAppend(t, st, eventstore.StreamAppend{Stream: "existing", Expected: eventstore.Any(), Events: events(3, "E")})
	for _, c := range []struct {
		name     string
		stream   string
		expected eventstore.ExpectedVersion
		ok       bool
		actual   uint64
	}{
		{"no stream on a new stream succeeds", "new-a", eventstore.NoStream(), true, 0},
		{"exact zero on a new stream succeeds", "new-b", eventstore.Exact(0), true, 0},
		{"any on a new stream succeeds", "new-c", eventstore.Any(), true, 0},
		{"exact one on a new stream conflicts", "new-d", eventstore.Exact(1), false, 0},
		{"no stream on an existing stream conflicts", "existing", eventstore.NoStream(), false, 3},
		{"a lower exact version conflicts", "existing", eventstore.Exact(2), false, 3},
		{"a higher exact version conflicts", "existing", eventstore.Exact(4), false, 3},
		{"the current exact version succeeds", "existing", eventstore.Exact(3), true, 0},
		{"any on an existing stream succeeds", "existing", eventstore.Any(), true, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := streamLen(t, st, c.stream)
			recs, err := st.Append(ctxFor(t), eventstore.StreamAppend{Stream: c.stream, Expected: c.expected, Events: events(1, "E")})
			if !c.ok {
				wantConflict(t, err, c.stream, c.actual)
				if n := streamLen(t, st, c.stream); n != before {
					t.Fatalf("stream grew from %d to %d", before, n)
				}
				return
			}
			if err != nil {
				t.Fatalf("append: %v", err)
			}
			if len(recs) != 1 || recs[0].Version != uint64(before+1) {
				t.Fatalf("records = %+v, want one at version %d", recs, before+1)
			}
		})
	}
	checkChain(t, st)
}

func (suite) multiStreamAtomic(t *testing.T, st eventstore.Store) {
	mustAppend(t, st, eventstore.StreamAppend{Stream: "family-1", Expected: eventstore.NoStream(), Events: events(1, "Issued")})
	before := head(t, st)
	_, err := st.Append(ctxFor(t),
		eventstore.StreamAppend{Stream: "token-9", Expected: eventstore.NoStream(), Events: events(2, "Minted")},
		eventstore.StreamAppend{Stream: "family-1", Expected: eventstore.NoStream(), Events: events(1, "Rotated")},
	)
	wantConflict(t, err, "family-1", 1)
	if n := streamLen(t, st, "token-9"); n != 0 {
		t.Fatalf("stream token-9 has %d events after a failed append", n)
	}
	if n := streamLen(t, st, "family-1"); n != 1 {
		t.Fatalf("stream family-1 has %d events, want 1", n)
	}
	if after := head(t, st); after.Position != before.Position || after.Hash != before.Hash {
		t.Fatalf("head moved from %+v to %+v", before, after)
	}
	checkChain(t, st)
}

func (suite) multiStreamOrder(t *testing.T, st eventstore.Store) {
	mustAppend(t, st, eventstore.StreamAppend{Stream: "b", Expected: eventstore.NoStream(), Events: events(1, "E")})
	recs := mustAppend(t, st,
		eventstore.StreamAppend{Stream: "a", Expected: eventstore.NoStream(), Events: events(2, "E")},
		eventstore.StreamAppend{Stream: "b", Expected: eventstore.Exact(1), Events: events(2, "E")},
	)
	want := []struct {
		pos     uint64
		stream  string
		version uint64
	}{{2, "a", 1}, {3, "a", 2}, {4, "b", 2}, {5, "b", 3}}
	if len(recs) != len(want) {
		t.Fatalf("got %d records, want %d", len(recs), len(want))
	}
	for i, w := range want {
		if r := recs[i]; r.Position != w.pos || r.Stream != w.stream || r.Version != w.version {
			t.Fatalf("record %d = (%d %s v%d), want (%d %s v%d)", i, r.Position, r.Stream, r.Version, w.pos, w.stream, w.version)
		}
	}
	stored := checkChain(t, st)
	for i, r := range recs {
		if !sameRecord(r, stored[i+1]) {
			t.Fatalf("returned record %d differs from the stored one:\n%+v\n%+v", i, r, stored[i+1])
		}
	}
}

func sameRecord(a, b eventstore.Record) bool {
	return a.Position == b.Position && a.Stream == b.Stream && a.Version == b.Version && a.ID == b.ID &&
		a.Type == b.Type && a.RecordedAt.Equal(b.RecordedAt) && string(a.Data) == string(b.Data) &&
		string(a.Metadata) == string(b.Metadata) && a.PrevHash == b.PrevHash && a.Hash == b.Hash
}

const (
	writers          = 32
	appendsPerWriter = 8
)

func (suite) concurrentWriters(t *testing.T, st eventstore.Store) {
	ctx := ctxFor(t)
	var wg sync.WaitGroup
	errs := make(chan error, writers*appendsPerWriter)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := fmt.Sprintf("writer-%d", w)
			for i := range appendsPerWriter {
				// Every writer owns a stream (exact versions) and shares
				// one (any), so batches mix both kinds.
				_, err := st.Append(ctx,
					eventstore.StreamAppend{Stream: own, Expected: eventstore.Exact(uint64(i)), Events: events(1, "Own")},
					eventstore.StreamAppend{Stream: "shared", Expected: eventstore.Any(), Events: events(1, "Shared")},
				)
				if err != nil {
					errs <- fmt.Errorf("writer %d append %d: %w", w, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	recs := checkChain(t, st)
	if want := writers * appendsPerWriter * 2; len(recs) != want {
		t.Fatalf("ledger has %d records, want %d", len(recs), want)
	}
	if n := streamLen(t, st, "shared"); n != writers*appendsPerWriter {
		t.Fatalf("shared stream has %d events, want %d", n, writers*appendsPerWriter)
	}
}

func (suite) conflictIsolated(t *testing.T, st eventstore.Store) {
	ctx := ctxFor(t)
	var (
		wg                 sync.WaitGroup
		mu                 sync.Mutex
		winners, conflicts int
		failures           []error
	)
	for w := range writers {
		wg.Add(2)
		go func() { // all race for one new stream: exactly one may win
			defer wg.Done()
			_, err := st.Append(ctx, eventstore.StreamAppend{Stream: "contended", Expected: eventstore.NoStream(), Events: events(1, "Claimed")})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				winners++
			case errors.Is(err, eventstore.ErrWrongExpectedVersion):
				conflicts++
			default:
				failures = append(failures, err)
			}
		}()
		go func() { // neighbours that must not be dragged down
			defer wg.Done()
			_, err := st.Append(ctx, eventstore.StreamAppend{Stream: fmt.Sprintf("calm-%d", w), Expected: eventstore.NoStream(), Events: events(1, "E")})
			if err != nil {
				mu.Lock()
				failures = append(failures, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d appends failed, first: %v", len(failures), failures[0])
	}
	if winners != 1 || conflicts != writers-1 {
		t.Fatalf("winners %d conflicts %d, want 1 and %d", winners, conflicts, writers-1)
	}
	if recs := checkChain(t, st); len(recs) != writers+1 {
		t.Fatalf("ledger has %d records, want %d", len(recs), writers+1)
	}
}

func (suite) readStream(t *testing.T, st eventstore.Store) {
	for i := range 3 {
		mustAppend(t, st,
			eventstore.StreamAppend{Stream: "keyring", Expected: eventstore.Exact(uint64(i)), Events: events(1, "KeyGenerated")},
			eventstore.StreamAppend{Stream: fmt.Sprintf("other-%d", i), Expected: eventstore.NoStream(), Events: events(1, "E")},
		)
	}
	recs, err := st.ReadStream(ctxFor(t), "keyring")
	if err != nil {
		t.Fatalf("read stream: %v", err)
	}
	if len(recs) != 3 {
		t.Fatalf("got %d records, want 3", len(recs))
	}
	for i, r := range recs {
		if r.Stream != "keyring" || r.Version != uint64(i+1) || r.Position != uint64(2*i+1) {
			t.Fatalf("record %d = %s v%d at %d", i, r.Stream, r.Version, r.Position)
		}
	}
	if n := streamLen(t, st, "keyring-"); n != 0 {
		t.Fatalf("a prefix of a stream name matched %d records", n)
	}
}

func (suite) readAllPages(t *testing.T, st eventstore.Store) {
	for i := range 7 {
		mustAppend(t, st, eventstore.StreamAppend{Stream: fmt.Sprintf("s-%d", i%3), Expected: eventstore.Any(), Events: events(1+i%2, "E")})
	}
	all := checkChain(t, st)
	var paged []eventstore.Record
	after := uint64(0)
	for {
		page, err := st.ReadAll(ctxFor(t), after, 4)
		if err != nil {
			t.Fatalf("read all after %d: %v", after, err)
		}
		if len(page) > 4 {
			t.Fatalf("page of %d records with limit 4", len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1].Position
	}
	if len(paged) != len(all) {
		t.Fatalf("paging read %d records, want %d", len(paged), len(all))
	}
	for i := range all {
		if !sameRecord(paged[i], all[i]) {
			t.Fatalf("page record %d differs", i)
		}
	}
	tail, err := st.ReadAll(ctxFor(t), uint64(len(all)-2), 10)
	if err != nil || len(tail) != 2 || tail[0].Position != uint64(len(all)-1) {
		t.Fatalf("read all after %d = %d records, %v", len(all)-2, len(tail), err)
	}
	beyond, err := st.ReadAll(ctxFor(t), uint64(len(all)+5), 10)
	if err != nil || len(beyond) != 0 {
		t.Fatalf("read all past the head = %d records, %v", len(beyond), err)
	}
}

func (suite) verbatim(t *testing.T, st eventstore.Store) {
	data := `{ "z": 1,  "a": [1.0, "é\u00e9"], "n": {"k": null} }`
	meta := `{"correlation_id":"c-1", "actor" : "svc"}`
	recs := mustAppend(t, st, eventstore.StreamAppend{Stream: "v", Expected: eventstore.NoStream(), Events: []eventstore.Event{
		{Type: "E", Data: json.RawMessage(data), Metadata: json.RawMessage(meta)},
		{Type: "E", Data: json.RawMessage(`{}`)},
	}})
	stored := checkChain(t, st)
	if string(stored[0].Data) != data || string(stored[0].Metadata) != meta {
		t.Fatalf("stored data %s metadata %s, want them verbatim", stored[0].Data, stored[0].Metadata)
	}
	if string(stored[1].Metadata) != "{}" || string(recs[1].Metadata) != "{}" {
		t.Fatalf("missing metadata stored as %q, want {}", stored[1].Metadata)
	}
}

// collector is a feed handler that forwards positions to a channel.
type collector struct {
	ch chan eventstore.Record
}

func newCollector() *collector { return &collector{ch: make(chan eventstore.Record, 1024)} }

func (c *collector) handle(_ context.Context, r eventstore.Record) error {
	c.ch <- r
	return nil
}

// expect receives the records at positions from..to, in order, and fails
// on anything else; the deadline only bounds a broken feed.
func (c *collector) expect(t *testing.T, from, to uint64) []eventstore.Record {
	t.Helper()
	var out []eventstore.Record
	for p := from; p <= to; p++ {
		select {
		case r := <-c.ch:
			if r.Position != p {
				t.Fatalf("feed delivered position %d, want %d", r.Position, p)
			}
			out = append(out, r)
		case <-time.After(30 * time.Second):
			t.Fatalf("feed did not deliver position %d", p)
		}
	}
	return out
}

func (c *collector) expectNothingMore(t *testing.T) {
	t.Helper()
	select {
	case r := <-c.ch:
		t.Fatalf("feed delivered unexpected position %d", r.Position)
	default:
	}
}

func (suite) feedFollows(t *testing.T, st eventstore.Store) {
	mustAppend(t, st, eventstore.StreamAppend{Stream: "s", Expected: eventstore.NoStream(), Events: events(5, "E")})
	ctx, cancel := context.WithCancel(ctxFor(t))
	c := newCollector()
	done := make(chan error, 1)
	go func() { done <- st.Subscribe(ctx, 2, c.handle) }()
	c.expect(t, 3, 5)
	for i := range 3 {
		mustAppend(t, st, eventstore.StreamAppend{Stream: "s", Expected: eventstore.Exact(uint64(5 + i)), Events: events(1, "Live")})
		c.expect(t, uint64(6+i), uint64(6+i))
	}
	mustAppend(t, st, eventstore.StreamAppend{Stream: "t", Expected: eventstore.NoStream(), Events: events(2, "Live")})
	got := c.expect(t, 9, 10)
	stored := readAll(t, st)
	for i, r := range got {
		if !sameRecord(r, stored[8+i]) {
			t.Fatalf("feed record %d differs from the stored one", r.Position)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("subscribe returned %v, want context.Canceled", err)
	}
	c.expectNothingMore(t)
}

func (suite) feedHandlerError(t *testing.T, st eventstore.Store) {
	mustAppend(t, st, eventstore.StreamAppend{Stream: "s", Expected: eventstore.NoStream(), Events: events(4, "E")})
	stop := errors.New("storetest: handler stops")
	var seen []uint64
	err := st.Subscribe(ctxFor(t), 0, func(_ context.Context, r eventstore.Record) error {
		seen = append(seen, r.Position)
		if r.Position == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("subscribe returned %v, want the handler's error", err)
	}
	if fmt.Sprint(seen) != "[1 2]" {
		t.Fatalf("handler saw %v, want [1 2]", seen)
	}
}

func (s suite) feedResumes(t *testing.T) {
	st := s.open(t, "")
	first := mustAppend(t, st, eventstore.StreamAppend{Stream: "s", Expected: eventstore.NoStream(), Events: events(5, "E")})
	// A consumer stores its checkpoint after each record and stops at 3,
	// as a crash would.
	var checkpoint uint64
	crash := errors.New("storetest: consumer crashed")
	err := st.Subscribe(ctxFor(t), 0, func(_ context.Context, r eventstore.Record) error {
		if r.Position != checkpoint+1 {
			return fmt.Errorf("position %d after checkpoint %d", r.Position, checkpoint)
		}
		checkpoint = r.Position
		if checkpoint == 3 {
			return crash
		}
		return nil
	})
	if !errors.Is(err, crash) {
		t.Fatalf("subscribe returned %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	st = s.open(t, "")
	if h := head(t, st); h.Position != 5 || h.Hash != first[4].Hash {
		t.Fatalf("reopened head = %+v, want position 5 and %s", h, first[4].Hash)
	}
	ctx, cancel := context.WithCancel(ctxFor(t))
	defer cancel()
	c := newCollector()
	done := make(chan error, 1)
	go func() { done <- st.Subscribe(ctx, checkpoint, c.handle) }()
	c.expect(t, 4, 5)
	mustAppend(t, st, eventstore.StreamAppend{Stream: "s", Expected: eventstore.Exact(5), Events: events(2, "AfterRestart")})
	got := c.expect(t, 6, 7)
	if got[0].PrevHash != first[4].Hash {
		t.Fatalf("the chain does not continue across the restart: prev_hash %s, want %s", got[0].PrevHash, first[4].Hash)
	}
	cancel()
	<-done
	c.expectNothingMore(t)
	checkChain(t, st)
}

func (suite) duplicateID(t *testing.T, st eventstore.Store) {
	id := uuid.Must(uuid.NewV7()).String()
	mustAppend(t, st, eventstore.StreamAppend{Stream: "a", Expected: eventstore.Any(), Events: []eventstore.Event{{ID: id, Type: "E", Data: json.RawMessage(`{}`)}}})
	ctx := ctxFor(t)
	var wg sync.WaitGroup
	dupErr := make(chan error, 1)
	others := make(chan error, writers)
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := st.Append(ctx, eventstore.StreamAppend{Stream: "b", Expected: eventstore.Any(), Events: []eventstore.Event{{ID: id, Type: "E", Data: json.RawMessage(`{}`)}}})
		dupErr <- err
	}()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := st.Append(ctx, eventstore.StreamAppend{Stream: fmt.Sprintf("n-%d", w), Expected: eventstore.NoStream(), Events: events(1, "E")})
			others <- err
		}()
	}
	wg.Wait()
	close(others)
	if err := <-dupErr; err == nil {
		t.Fatal("an event id already in the ledger was appended again")
	}
	for err := range others {
		if err != nil {
			t.Fatalf("a neighbour of the duplicate failed: %v", err)
		}
	}
	if n := streamLen(t, st, "b"); n != 0 {
		t.Fatalf("stream b has %d events", n)
	}
	if recs := checkChain(t, st); len(recs) != writers+1 {
		t.Fatalf("ledger has %d records, want %d", len(recs), writers+1)
	}
}

func (suite) badInput(t *testing.T, st eventstore.Store) {
	mustAppend(t, st, eventstore.StreamAppend{Stream: "existing", Expected: eventstore.NoStream(), Events: events(1, "E")})
	before := head(t, st)
	ok := func() eventstore.StreamAppend {
		return eventstore.StreamAppend{Stream: "fresh", Expected: eventstore.Any(), Events: events(1, "E")}
	}
	with := func(f func(a *eventstore.StreamAppend)) []eventstore.StreamAppend {
		a := ok()
		f(&a)
		return []eventstore.StreamAppend{a}
	}
	big := `{"blob":"` + strings.Repeat("x", eventstore.MaxEventBytes) + `"}`
	for _, c := range []struct {
		name    string
		appends []eventstore.StreamAppend
	}{
		{"an empty stream name", with(func(a *eventstore.StreamAppend) { a.Stream = "" })},
		{"an empty type", with(func(a *eventstore.StreamAppend) { a.Events[0].Type = "" })},
		{"a newline in the stream name", with(func(a *eventstore.StreamAppend) { a.Stream = "session-1\nforged" })},
		{"a carriage return in the stream name", with(func(a *eventstore.StreamAppend) { a.Stream = "session-1\r" })},
		{"a newline in the type", with(func(a *eventstore.StreamAppend) { a.Events[0].Type = "Started\n" })},
		{"a NUL in the type", with(func(a *eventstore.StreamAppend) { a.Events[0].Type = "Start\x00ed" })},
		{"invalid UTF-8 in the stream name", with(func(a *eventstore.StreamAppend) { a.Stream = "s\xff" })},
		{"data that is a JSON array", with(func(a *eventstore.StreamAppend) { a.Events[0].Data = json.RawMessage(`[1,2]`) })},
		{"data that is a JSON string", with(func(a *eventstore.StreamAppend) { a.Events[0].Data = json.RawMessage(`"x"`) })},
		{"data that is null", with(func(a *eventstore.StreamAppend) { a.Events[0].Data = json.RawMessage(`null`) })},
		{"missing data", with(func(a *eventstore.StreamAppend) { a.Events[0].Data = nil })},
		{"data that is not JSON", with(func(a *eventstore.StreamAppend) { a.Events[0].Data = json.RawMessage(`{"a":`) })},
		{"data with a duplicate member name", with(func(a *eventstore.StreamAppend) { a.Events[0].Data = json.RawMessage(`{"a":1,"a":2}`) })},
		{"data with invalid UTF-8", with(func(a *eventstore.StreamAppend) { a.Events[0].Data = json.RawMessage("{\"a\":\"\xff\"}") })},
		{"metadata that is a JSON array", with(func(a *eventstore.StreamAppend) { a.Events[0].Metadata = json.RawMessage(`[]`) })},
		{"an event over the size limit", with(func(a *eventstore.StreamAppend) { a.Events[0].Data = json.RawMessage(big) })},
		{"an upper-case event id", with(func(a *eventstore.StreamAppend) {
			a.Events[0].ID = strings.ToUpper(uuid.Must(uuid.NewV7()).String())
		})},
		{"an event id that is not a UUID", with(func(a *eventstore.StreamAppend) { a.Events[0].ID = "evt-1" })},
		{"an append without events", with(func(a *eventstore.StreamAppend) { a.Events = nil })},
		{"the same stream twice in one append", append(with(func(*eventstore.StreamAppend) {}), ok())},
		{"no stream at all", nil},
		{"a valid stream beside an invalid one", append([]eventstore.StreamAppend{ok()}, with(func(a *eventstore.StreamAppend) {
			a.Stream = "other"
			a.Events[0].Type = ""
		})...)},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := st.Append(ctxFor(t), c.appends...)
			if !errors.Is(err, eventstore.ErrInvalidEvent) {
				t.Fatalf("err = %v, want ErrInvalidEvent", err)
			}
			var ie *eventstore.InvalidEventError
			if !errors.As(err, &ie) {
				t.Fatalf("err = %v, want *InvalidEventError", err)
			}
			if strings.Contains(err.Error(), strings.Repeat("x", 64)) {
				t.Fatalf("the error repeats the event body")
			}
		})
	}
	if after := head(t, st); after.Position != before.Position || after.Hash != before.Hash {
		t.Fatalf("head moved from %+v to %+v", before, after)
	}
	if n := streamLen(t, st, "fresh"); n != 0 {
		t.Fatalf("stream fresh has %d events", n)
	}
	// Exactly at the limit is still accepted.
	exact := `{"b":"` + strings.Repeat("x", eventstore.MaxEventBytes-len(`{"b":""}`)-len("{}")) + `"}`
	mustAppend(t, st, eventstore.StreamAppend{Stream: "fresh", Expected: eventstore.NoStream(), Events: []eventstore.Event{{Type: "E", Data: json.RawMessage(exact)}}})
	checkChain(t, st)
}

// unsafeInteger: JCS reads numbers as doubles, so beyond ±2^53 two
// integers share a hash (DESIGN.md §3); the store refuses them up front.
func (suite) unsafeInteger(t *testing.T, st eventstore.Store) {
	mustAppend(t, st, eventstore.StreamAppend{Stream: "existing", Expected: eventstore.NoStream(), Events: events(1, "E")})
	before := head(t, st)
	for _, c := range []struct {
		name, data, meta, path string
	}{
		{"2^53+1 in data", `{"amount":9007199254740993}`, `{}`, "data.amount"},
		{"-(2^53+1) deep in data", `{"a":[{"b":-9007199254740993}]}`, `{}`, "data.a[0].b"},
		{"2^64-1 in metadata", `{"ok":1}`, `{"seq":18446744073709551615}`, "metadata.seq"},
		{"1e16 in data", `{"n":1e16}`, `{}`, "data.n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := st.Append(ctxFor(t),
				eventstore.StreamAppend{Stream: "fresh", Expected: eventstore.Any(), Events: events(1, "E")},
				eventstore.StreamAppend{Stream: "unsafe", Expected: eventstore.Any(), Events: []eventstore.Event{{Type: "E", Data: json.RawMessage(c.data), Metadata: json.RawMessage(c.meta)}}})
			var ie *eventstore.InvalidEventError
			if !errors.Is(err, eventstore.ErrUnsafeInteger) || !errors.Is(err, eventstore.ErrInvalidEvent) || !errors.As(err, &ie) {
				t.Fatalf("err = %v, want an *InvalidEventError matching ErrUnsafeInteger", err)
			}
			if ie.Stream != "unsafe" || ie.Path != c.path {
				t.Fatalf("stream %q path %q, want %q %q", ie.Stream, ie.Path, "unsafe", c.path)
			}
		})
	}
	if after := head(t, st); after.Position != before.Position || after.Hash != before.Hash {
		t.Fatalf("head moved from %+v to %+v", before, after)
	}
	if n := streamLen(t, st, "fresh") + streamLen(t, st, "unsafe"); n != 0 {
		t.Fatalf("%d events written", n)
	}
	// 2^53 itself is exact in every language and is kept as written.
	recs := mustAppend(t, st, eventstore.StreamAppend{Stream: "unsafe", Expected: eventstore.NoStream(), Events: []eventstore.Event{{Type: "E", Data: json.RawMessage(`{"n":9007199254740992,"m":-9007199254740992}`)}}})
	if got := string(recs[0].Data); got != `{"n":9007199254740992,"m":-9007199254740992}` {
		t.Fatalf("stored %s", got)
	}
	checkChain(t, st)
}

func (suite) appendAfterClose(t *testing.T, st eventstore.Store) {
	mustAppend(t, st, eventstore.StreamAppend{Stream: "s", Expected: eventstore.NoStream(), Events: events(1, "E")})
	if err := st.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	_, err := st.Append(ctxFor(t), eventstore.StreamAppend{Stream: "s", Expected: eventstore.Any(), Events: events(1, "E")})
	if !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("append after close: %v, want ErrClosed", err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("a second close: %v", err)
	}
}

func (suite) recordedAt(t *testing.T, st eventstore.Store) {
	recs := mustAppend(t, st, eventstore.StreamAppend{Stream: "s", Expected: eventstore.NoStream(), Events: events(3, "E")})
	stored := readAll(t, st)
	for i, r := range recs {
		for _, at := range []time.Time{r.RecordedAt, stored[i].RecordedAt} {
			if at.Location() != time.UTC {
				t.Fatalf("recorded_at %v is not in UTC", at)
			}
			if at.Nanosecond()%1000 != 0 {
				t.Fatalf("recorded_at %v has sub-microsecond digits", at)
			}
			if at.IsZero() || time.Since(at) > time.Hour || time.Until(at) > time.Hour {
				t.Fatalf("recorded_at %v is not the append time", at)
			}
		}
		if !stored[i].RecordedAt.Equal(r.RecordedAt) {
			t.Fatalf("stored recorded_at %v, returned %v", stored[i].RecordedAt, r.RecordedAt)
		}
		if _, err := eventstore.ParseTime(eventstore.FormatTime(r.RecordedAt)); err != nil {
			t.Fatal(err)
		}
	}
}

func (suite) ids(t *testing.T, st eventstore.Store) {
	supplied := uuid.Must(uuid.NewV7()).String()
	recs := mustAppend(t, st, eventstore.StreamAppend{Stream: "s", Expected: eventstore.NoStream(), Events: []eventstore.Event{
		ev("E", `{}`), ev("E", `{}`), {ID: supplied, Type: "E", Data: json.RawMessage(`{}`)},
	}})
	stored := readAll(t, st)
	seen := map[string]bool{}
	for i, r := range stored {
		u, err := uuid.Parse(r.ID)
		if err != nil || u.Version() != 7 || r.ID != strings.ToLower(r.ID) || r.ID != u.String() {
			t.Fatalf("id %q is not a lower-case UUIDv7", r.ID)
		}
		if seen[r.ID] {
			t.Fatalf("id %s appears twice", r.ID)
		}
		seen[r.ID] = true
		if r.ID != recs[i].ID {
			t.Fatalf("stored id %s, returned %s", r.ID, recs[i].ID)
		}
	}
	if stored[2].ID != supplied {
		t.Fatalf("supplied id %s stored as %s", supplied, stored[2].ID)
	}
}

func (s suite) closeDrains(t *testing.T) {
	st := s.open(t, "")
	ctx := ctxFor(t)
	// Committed before Close, so the check below cannot pass vacuously
	// when Close wins every race against the concurrent writers.
	before := mustAppend(t, st, eventstore.StreamAppend{Stream: "before-close", Expected: eventstore.NoStream(), Events: events(3, "E")})
	type outcome struct {
		recs []eventstore.Record
		err  error
	}
	out := make(chan outcome, 4*writers)
	var started, wg sync.WaitGroup
	for w := range 4 * writers {
		started.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			started.Done()
			recs, err := st.Append(ctx, eventstore.StreamAppend{Stream: fmt.Sprintf("w-%d", w), Expected: eventstore.NoStream(), Events: events(1, "E")})
			out <- outcome{recs, err}
		}()
	}
	started.Wait()
	if err := st.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	wg.Wait()
	close(out)
	committed := append([]eventstore.Record(nil), before...)
	for o := range out {
		switch {
		case o.err == nil:
			committed = append(committed, o.recs...)
		case errors.Is(o.err, eventstore.ErrClosed):
		default:
			t.Fatalf("append during close: %v", o.err)
		}
	}
	st = s.open(t, "")
	stored := checkChain(t, st)
	if len(stored) != len(committed) {
		t.Fatalf("%d appends reported success but the ledger holds %d", len(committed), len(stored))
	}
	for _, r := range committed {
		if !sameRecord(r, stored[r.Position-1]) {
			t.Fatalf("reported record %d differs from the stored one", r.Position)
		}
	}
}

// workedExampleLine is the export line of docs/ledger-format.md's worked
// example (eventstore/audit tests the page against the same hash).
const workedExampleLine = `{"position":1,"stream":"family-0193a0b14c1d7e2f8a3b4c5d6e7f8a9b","version":1,"id":"0193a0b1-5e6f-7a8b-9c0d-1e2f3a4b5c6d","type":"refreshtoken.family_started.v1","recorded_at":"2026-01-02T03:04:05.000006Z","data":{"family":"0193a0b14c1d7e2f8a3b4c5d6e7f8a9b","client_id":"login","subject":"user-7f3a","session_id":"5b2e8c1d-3f4a-4b6c-9d7e-8f9a0b1c2d3e","acr":"aal1","amr":["pwd"],"auth_time":"2026-01-02T03:04:05Z","token":"8f14e45fceea167a5a36dedd4bea2543","key_id":"rt-2026-01","expires_at":"2026-01-02T15:04:05Z","at":"2026-01-02T03:04:05.000006Z","not_after":"2026-01-02T15:04:05Z"},"metadata":{"correlation_id":"0193a0b1-0000-7000-8000-00000000c0de","actor":"client:login","request_id":"req-7"},"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","hash":"953172d9772ee7e6372ef9e6c92785e37c9e8e8b9901dd63540a9ea699ec9b5e"}`

func (s suite) workedExample(t *testing.T) {
	var ex struct {
		Stream     string          `json:"stream"`
		ID         string          `json:"id"`
		Type       string          `json:"type"`
		RecordedAt string          `json:"recorded_at"`
		Data       json.RawMessage `json:"data"`
		Metadata   json.RawMessage `json:"metadata"`
		Hash       string          `json:"hash"`
	}
	if err := json.Unmarshal([]byte(workedExampleLine), &ex); err != nil {
		t.Fatal(err)
	}
	at, err := eventstore.ParseTime(ex.RecordedAt)
	if err != nil {
		t.Fatal(err)
	}
	// A clock with nanoseconds and another zone: the store must truncate
	// to microseconds and convert to UTC itself.
	now := at.Add(789 * time.Nanosecond).In(time.FixedZone("UTC+5", 5*3600))
	name := strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(t.Name()), "_"), "_")
	if len(name) > 80 {
		name = name[len(name)-80:]
	}
	st := s.factory.OpenWithClock(t, name, func() time.Time { return now })
	recs := mustAppend(t, st, eventstore.StreamAppend{Stream: ex.Stream, Expected: eventstore.NoStream(), Events: []eventstore.Event{
		{ID: ex.ID, Type: ex.Type, Data: ex.Data, Metadata: ex.Metadata},
	}})
	if recs[0].Hash != ex.Hash {
		t.Fatalf("appended hash %s, the worked example says %s", recs[0].Hash, ex.Hash)
	}
	stored := checkChain(t, st)
	if stored[0].Hash != ex.Hash || eventstore.FormatTime(stored[0].RecordedAt) != ex.RecordedAt {
		t.Fatalf("stored %s at %s, want %s at %s", stored[0].Hash, eventstore.FormatTime(stored[0].RecordedAt), ex.Hash, ex.RecordedAt)
	}
}

// importKeepsRecords copies a ledger into an empty one of the same adapter
// through eventstore.Importer: the copy holds the same records, byte for
// byte, appends continue its chain, and records that do not continue it
// are refused whole.
func (s suite) importKeepsRecords(t *testing.T, src eventstore.Store) {
	ctx := context.Background()
	dst, ok := s.factory.Open(t, "import-target-"+uuid.NewString()[:8]).(eventstore.Importer)
	if !ok {
		t.Skip("the adapter does not import")
	}
	for i := range 5 {
		if _, err := src.Append(ctx, eventstore.StreamAppend{Stream: fmt.Sprintf("s-%d", i%2), Expected: eventstore.Any(), Events: []eventstore.Event{
			{Type: "t.v1", Data: json.RawMessage(fmt.Sprintf(`{"i": %d}`, i)), Metadata: json.RawMessage(`{"k":  "v"}`)},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := src.ReadAll(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.Import(ctx, recs[1:]); err == nil {
		t.Fatal("an import that skips position 1 was accepted")
	}
	if err := dst.Import(ctx, recs[:2]); err != nil {
		t.Fatalf("import: %v", err)
	}
	if err := dst.Import(ctx, recs[3:]); err == nil {
		t.Fatal("an import with a gap was accepted")
	}
	if err := dst.Import(ctx, recs[2:]); err != nil {
		t.Fatalf("import of the rest: %v", err)
	}
	st := dst.(eventstore.Store)
	got, err := st.ReadAll(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Fatalf("copy holds %d records, want %d", len(got), len(recs))
	}
	for i := range recs {
		a, b := recs[i], got[i]
		if a.Position != b.Position || a.ID != b.ID || a.Hash != b.Hash || a.PrevHash != b.PrevHash || !a.RecordedAt.Equal(b.RecordedAt) ||
			string(a.Data) != string(b.Data) || string(a.Metadata) != string(b.Metadata) || a.Stream != b.Stream || a.Version != b.Version {
			t.Fatalf("record %d differs after the copy:\n%+v\n%+v", i, a, b)
		}
	}
	out, err := st.Append(ctx, eventstore.StreamAppend{Stream: "s-0", Expected: eventstore.Exact(recs[len(recs)-1].Version), Events: []eventstore.Event{{Type: "t.v1", Data: json.RawMessage(`{}`)}}})
	if err != nil {
		t.Fatalf("append after import at the imported version: %v", err)
	}
	if out[0].PrevHash != recs[len(recs)-1].Hash || out[0].Position != recs[len(recs)-1].Position+1 {
		t.Fatal("an append after the import does not continue the imported chain")
	}
}
