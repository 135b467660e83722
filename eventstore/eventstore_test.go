package eventstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authledger/authledger/eventstore"
)

func TestExpectedVersionCheck(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		expected eventstore.ExpectedVersion
		actual   uint64
		ok       bool
	}{
		{"any accepts a new stream", eventstore.Any(), 0, true},
		{"any accepts an existing stream", eventstore.Any(), 7, true},
		{"no stream accepts a new stream", eventstore.NoStream(), 0, true},
		{"no stream refuses an existing stream", eventstore.NoStream(), 1, false},
		{"exact zero is no stream", eventstore.Exact(0), 0, true},
		{"exact accepts its version", eventstore.Exact(3), 3, true},
		{"exact refuses an older version", eventstore.Exact(3), 2, false},
		{"exact refuses a newer version", eventstore.Exact(3), 4, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.expected.Check(c.actual); got != c.ok {
				t.Fatalf("%v.Check(%d) = %v", c.expected, c.actual, got)
			}
		})
	}
	if eventstore.Exact(0) != eventstore.NoStream() || !eventstore.Any().IsAny() || eventstore.Exact(2).String() != "2" {
		t.Fatal("expected versions do not compare or print as documented")
	}
}

func TestParseTimeAcceptsOnlyTheSixDigitForm(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"2026-01-02T03:04:05.000006Z", true},
		{"2026-01-02T03:04:05Z", false},
		{"2026-01-02T03:04:05.000006000Z", false},
		{"2026-01-02T03:04:05.00006Z", false},
		{"2026-01-02T03:04:05.000006+00:00", false},
		{"2026-01-02 03:04:05.000006Z", false},
	} {
		_, err := eventstore.ParseTime(c.in)
		if (err == nil) != c.ok {
			t.Errorf("ParseTime(%q) error = %v, want ok=%v", c.in, err, c.ok)
		}
	}
}

func appendOf(data string) []eventstore.StreamAppend {
	return []eventstore.StreamAppend{{Stream: "s", Expected: eventstore.Any(), Events: []eventstore.Event{{Type: "E", Data: json.RawMessage(data)}}}}
}

func TestSealAndPreparedSealAgreeWithComputeHash(t *testing.T) {
	t.Parallel()
	appends := []eventstore.StreamAppend{
		{Stream: "a", Events: []eventstore.Event{
			{Type: "E", Data: json.RawMessage(`{"b":2, "a":[1, 2.50, "\u00e9"]}`), Metadata: json.RawMessage(`{ "actor":"x" }`)},
			{Type: "F", Data: json.RawMessage(`{}`)},
		}},
		{Stream: "b", Events: []eventstore.Event{{Type: "E", Data: json.RawMessage(`{"n":1e2}`)}}},
	}
	p, err := eventstore.Prepare(appends)
	if err != nil {
		t.Fatal(err)
	}
	head := eventstore.Head{Position: 41, Hash: strings.Repeat("ab", 32)}
	now := time.Date(2026, 1, 2, 3, 4, 5, 6789, time.FixedZone("x", 3600))
	versions := map[string]uint64{"b": 9}
	sealed, err := eventstore.Seal(head, now, versions, appends)
	if err != nil {
		t.Fatal(err)
	}
	prepared := p.Seal(head, now, versions)
	if len(sealed) != 3 || len(prepared) != 3 {
		t.Fatalf("sealed %d and %d records, want 3", len(sealed), len(prepared))
	}
	prev := head.Hash
	for i, r := range sealed {
		h, err := eventstore.ComputeHash(r)
		if err != nil {
			t.Fatal(err)
		}
		if r.Hash != h || prepared[i].Hash != h || r.PrevHash != prev {
			t.Fatalf("record %d: sealed %s, prepared %s, recomputed %s", i, r.Hash, prepared[i].Hash, h)
		}
		if r.Position != head.Position+uint64(i)+1 {
			t.Fatalf("record %d at position %d", i, r.Position)
		}
		if r.RecordedAt.Location() != time.UTC || r.RecordedAt.Nanosecond() != 6000 {
			t.Fatalf("recorded_at %v, want UTC truncated to the microsecond", r.RecordedAt)
		}
		prev = h
	}
	if sealed[1].Version != 2 || sealed[2].Version != 10 {
		t.Fatalf("versions %d and %d, want 2 and 10", sealed[1].Version, sealed[2].Version)
	}
}

func TestValidateNamesTheBadField(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, field string
		appends     []eventstore.StreamAppend
	}{
		{"no appends", "appends", nil},
		{"an array as data", "data", appendOf(`[]`)},
		{"a number too large for I-JSON", "data", appendOf(`{"n":1e400}`)},
		{"trailing garbage", "data", appendOf(`{} {}`)},
		{"a type with a line break", "type", []eventstore.StreamAppend{{Stream: "s", Events: []eventstore.Event{{Type: "a\nb", Data: json.RawMessage(`{}`)}}}}},
		{"a stream name over 256 bytes", "stream", []eventstore.StreamAppend{{Stream: strings.Repeat("s", 257), Events: []eventstore.Event{{Type: "E", Data: json.RawMessage(`{}`)}}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := eventstore.Validate(c.appends)
			var ie *eventstore.InvalidEventError
			if !errors.As(err, &ie) || !errors.Is(err, eventstore.ErrInvalidEvent) || ie.Field != c.field {
				t.Fatalf("err = %v, want an invalid %s", err, c.field)
			}
		})
	}
}

func TestValidateFillsIDsAndMetadata(t *testing.T) {
	t.Parallel()
	appends := appendOf(`{}`)
	if err := eventstore.Validate(appends); err != nil {
		t.Fatal(err)
	}
	e := appends[0].Events[0]
	if len(e.ID) != 36 || string(e.Metadata) != "{}" {
		t.Fatalf("id %q metadata %q", e.ID, e.Metadata)
	}
}

// ledger is a slice-backed read function for Follow.
type ledger struct {
	mu   sync.Mutex
	recs []eventstore.Record
}

func (l *ledger) add(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for range n {
		l.recs = append(l.recs, eventstore.Record{Position: uint64(len(l.recs) + 1)})
	}
}

func (l *ledger) read(_ context.Context, after uint64, limit int) ([]eventstore.Record, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if after >= uint64(len(l.recs)) {
		return nil, nil
	}
	end := min(uint64(len(l.recs)), after+uint64(limit))
	return append([]eventstore.Record(nil), l.recs[after:end]...), nil
}

func follow(t *testing.T, l *ledger, sig *eventstore.Signal, safety time.Duration, after uint64) <-chan uint64 {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan uint64, 4*eventstore.FeedBatch)
	done := make(chan error, 1)
	go func() {
		done <- eventstore.Follow(ctx, l.read, sig, safety, after, func(_ context.Context, r eventstore.Record) error {
			ch <- r.Position
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("follow returned %v", err)
		}
	})
	return ch
}

func expect(t *testing.T, ch <-chan uint64, from, to uint64) {
	t.Helper()
	for p := from; p <= to; p++ {
		select {
		case got := <-ch:
			if got != p {
				t.Fatalf("delivered %d, want %d", got, p)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("position %d not delivered", p)
		}
	}
}

func TestFollowCatchesUpOverSeveralPagesThenFollowsSignals(t *testing.T) {
	t.Parallel()
	l := &ledger{}
	l.add(2*eventstore.FeedBatch + 3)
	sig := eventstore.NewSignal()
	ch := follow(t, l, sig, 0, 5)
	expect(t, ch, 6, 2*eventstore.FeedBatch+3)
	for range 3 {
		l.add(2)
		sig.Notify()
		n := uint64(len(l.recs))
		expect(t, ch, n-1, n)
	}
}

func TestFollowRecoversALostNotificationOnItsSafetyWakeUp(t *testing.T) {
	t.Parallel()
	l := &ledger{}
	ch := follow(t, l, eventstore.NewSignal(), 5*time.Millisecond, 0)
	l.add(3) // no Notify: as if the NOTIFY was lost
	expect(t, ch, 1, 3)
}

// FuzzPrepare: whatever the body, Prepare either refuses it as an invalid
// event or seals records whose hashes ComputeHash reproduces.
func FuzzPrepare(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `[1]`, `{"a":1,"a":2}`, `{"n":1e400}`, "{\"s\":\"\xff\"}", `{"x":"\u0000"}`, ` {"a" : [true, null, -0.0]} `} {
		f.Add(s, "{}", "stream", "Type")
	}
	f.Fuzz(func(t *testing.T, data, meta, stream, typ string) {
		appends := []eventstore.StreamAppend{{Stream: stream, Events: []eventstore.Event{{Type: typ, Data: json.RawMessage(data), Metadata: json.RawMessage(meta)}}}}
		p, err := eventstore.Prepare(appends)
		if err != nil {
			if !errors.Is(err, eventstore.ErrInvalidEvent) {
				t.Fatalf("Prepare: %v is not an invalid event", err)
			}
			return
		}
		recs := p.Seal(eventstore.Head{Hash: eventstore.GenesisHash}, time.Unix(1, 0), map[string]uint64{})
		h, err := eventstore.ComputeHash(recs[0])
		if err != nil || h != recs[0].Hash {
			t.Fatalf("recomputed %s (%v), sealed %s", h, err, recs[0].Hash)
		}
	})
}
