package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/audit"
	"github.com/authledger/authledger/eventstore/memstore"
)

func rehash(tb testing.TB, r *eventstore.Record) {
	tb.Helper()
	h, err := eventstore.ComputeHash(*r)
	if err != nil {
		tb.Fatal(err)
	}
	r.Hash = h
}

// tamperCases each change a valid ten-event ledger and name the position
// the verifier must report.
var tamperCases = []struct {
	name   string
	tamper func(tb testing.TB, recs []eventstore.Record) []eventstore.Record
	want   uint64
}{
	{"editing one event's data breaks the chain at that event", func(tb testing.TB, r []eventstore.Record) []eventstore.Record {
		r[3].Data = json.RawMessage(`{"n":999,"subject":"sub-3","ok":true}`)
		return r
	}, 4},
	{"reformatting data without changing its meaning keeps the chain", func(tb testing.TB, r []eventstore.Record) []eventstore.Record {
		r[3].Data = json.RawMessage("{ \"ok\" : true, \"subject\":\"sub-3\",\n \"n\":3.0 }")
		return r
	}, 0},
	{"editing one event's metadata breaks the chain at that event", func(tb testing.TB, r []eventstore.Record) []eventstore.Record {
		r[3].Metadata = json.RawMessage(`{"correlation_id":"c-3","actor":"mallory"}`)
		return r
	}, 4},
	{"editing one event's type breaks the chain at that event", func(tb testing.TB, r []eventstore.Record) []eventstore.Record {
		r[3].Type = "SomethingElse"
		return r
	}, 4},
	{"moving one event's timestamp by a microsecond breaks the chain at that event", func(tb testing.TB, r []eventstore.Record) []eventstore.Record {
		r[3].RecordedAt = r[3].RecordedAt.Add(time.Microsecond)
		return r
	}, 4},
	{"moving one event to another stream breaks the chain at that event", func(tb testing.TB, r []eventstore.Record) []eventstore.Record {
		r[3].Stream = "client-z"
		r[3].Version = 1
		return r
	}, 4},
	{"changing one event's version breaks the chain at that event", func(tb testing.TB, r []eventstore.Record) []eventstore.Record {
		r[3].Version++
		return r
	}, 4},
	{"changing one event's id breaks the chain at that event", func(tb testing.TB, r []eventstore.Record) []eventstore.Record {
		r[3].ID = r[4].ID
		return r
	}, 4},
	{"deleting an event names the missing position", func(tb testing.TB, r []eventstore.Record) []eventstore.Record {
		return append(r[:3:3], r[4:]...)
	}, 4},
	{"deleting the first event names position 1", func(tb testing.TB, r []eventstore.Record) []eventstore.Record {
		return r[1:]
	}, 1},
	{"inserting a duplicate event names the position after it", func(tb testing.TB, r []eventstore.Record) []eventstore.Record {
		return append(r[:4:4], append([]eventstore.Record{r[3]}, r[4:]...)...)
	}, 5},
	{"inserting a well-hashed forged event and renumbering the rest breaks at the next event", func(tb testing.TB, r []eventstore.Record) []eventstore.Record {
		forged := r[3]
		forged.Stream, forged.Version, forged.Type = "client-evil", 1, "ClientRegistered"
		forged.Data = json.RawMessage(`{"scopes":"admin"}`)
		rehash(tb, &forged)
		out := append(r[:3:3], forged)
		for _, x := range r[3:] {
			x.Position++
			out = append(out, x)
		}
		return out
	}, 5},
	{"swapping two events' order names the first of them", func(tb testing.TB, r []eventstore.Record) []eventstore.Record {
		r[3], r[4] = r[4], r[3]
		return r
	}, 4},
	{"swapping two events' contents but not their positions names the first of them", func(tb testing.TB, r []eventstore.Record) []eventstore.Record {
		r[3], r[4] = r[4], r[3]
		r[3].Position, r[4].Position = 4, 5
		return r
	}, 4},
	{"rehashing an edited event breaks the link to the next one", func(tb testing.TB, r []eventstore.Record) []eventstore.Record {
		r[3].Data = json.RawMessage(`{"n":999}`)
		rehash(tb, &r[3])
		return r
	}, 5},
	{"a prev_hash that skips its predecessor breaks the chain", func(tb testing.TB, r []eventstore.Record) []eventstore.Record {
		r[3].PrevHash = r[1].Hash
		rehash(tb, &r[3])
		return r
	}, 4},
	{"a first event that does not start from the genesis hash breaks at position 1", func(tb testing.TB, r []eventstore.Record) []eventstore.Record {
		r[0].PrevHash = strings.Repeat("1", 64)
		rehash(tb, &r[0])
		return r
	}, 1},
	{"an upper-case hash is not format v1", func(tb testing.TB, r []eventstore.Record) []eventstore.Record {
		r[9].Hash = strings.ToUpper(r[9].Hash)
		return r
	}, 10},
	{"editing the last event breaks the chain at the last position", func(tb testing.TB, r []eventstore.Record) []eventstore.Record {
		r[9].Data = json.RawMessage(`{}`)
		return r
	}, 10},
}

func TestTamperingIsNamedAtItsPosition(t *testing.T) {
	t.Parallel()
	for _, tc := range tamperCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			recs := tc.tamper(t, sealed(t, 10))

			t.Run("over a store", func(t *testing.T) {
				_, err := audit.Verify(context.Background(), &sliceStore{recs: recs}, audit.Options{PageSize: 3})
				if tc.want == 0 {
					if err != nil {
						t.Fatalf("want a valid chain, got %v", err)
					}
					return
				}
				wantBreak(t, err, tc.want)
			})
			t.Run("over an export", func(t *testing.T) {
				_, err := audit.VerifyExport(bytes.NewReader(join(exportOf(t, recs))), audit.Options{})
				if tc.want == 0 {
					if err != nil {
						t.Fatalf("want a valid chain, got %v", err)
					}
					return
				}
				wantBreak(t, err, tc.want)
			})
		})
	}
}

func TestRecordsBreakingFormatRulesAreNamed(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		tamper func(r *eventstore.Record)
		reason string
	}{
		{"a stream with a newline", func(r *eventstore.Record) { r.Stream = "session-a\nx" }, "line break"},
		{"an empty type", func(r *eventstore.Record) { r.Type = "" }, "type is empty"},
		{"an upper-case id", func(r *eventstore.Record) { r.ID = strings.ToUpper(r.ID) }, "lower-case UUID"},
		{"a sub-microsecond timestamp", func(r *eventstore.Record) { r.RecordedAt = r.RecordedAt.Add(time.Nanosecond) }, "sub-microsecond"},
		{"data that is an array", func(r *eventstore.Record) { r.Data = json.RawMessage(`[1]`) }, "data is not a JSON object"},
		{"metadata that is a string", func(r *eventstore.Record) { r.Metadata = json.RawMessage(`"x"`) }, "metadata is not a JSON object"},
		{"data with a duplicate member", func(r *eventstore.Record) { r.Data = json.RawMessage(`{"a":1,"a":2}`) }, "cannot hash"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			recs := sealed(t, 3)
			tc.tamper(&recs[1])
			v := audit.NewVerifier(audit.Options{})
			if err := v.Add(recs[0]); err != nil {
				t.Fatal(err)
			}
			err := v.Add(recs[1])
			wantBreak(t, err, 2)
			if !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("%q does not say %q", err, tc.reason)
			}
			if again := v.Add(recs[2]); again != err {
				t.Fatalf("a verifier keeps its first error, got %v then %v", err, again)
			}
			if _, ferr := v.Finish(); ferr != err {
				t.Fatalf("Finish returned %v, want the first error %v", ferr, err)
			}
		})
	}
}

func TestVerifyReturnsTheHeadOfAValidLedger(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := t0
	store := memstore.New(func() time.Time { clock = clock.Add(1500 * time.Nanosecond); return clock })
	for i := range 25 {
		_, err := store.Append(ctx,
			eventstore.StreamAppend{Stream: "keyring", Events: []eventstore.Event{{Type: "KeyGenerated", Data: json.RawMessage(`{"kid":"k"}`)}}},
			eventstore.StreamAppend{Stream: "session-" + string(rune('a'+i%4)), Events: []eventstore.Event{{Type: "SessionStarted", Data: json.RawMessage(`{}`)}, {Type: "SessionEnded", Data: json.RawMessage(`{}`)}}},
		)
		if err != nil {
			t.Fatal(err)
		}
	}
	want, err := store.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, page := range []int{0, 1, 7, 1000} {
		got, err := audit.Verify(ctx, store, audit.Options{PageSize: page})
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		if got.Position != 75 || got.Position != want.Position || got.Hash != want.Hash || !got.RecordedAt.Equal(want.RecordedAt) {
			t.Fatalf("page %d: head %+v, want %+v", page, got, want)
		}
	}
}

func TestAnEmptyLedgerVerifiesAtTheGenesisHash(t *testing.T) {
	t.Parallel()
	head, err := audit.Verify(context.Background(), memstore.New(nil), audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if head.Position != 0 || head.Hash != eventstore.GenesisHash {
		t.Fatalf("head %+v", head)
	}
	head, err = audit.VerifyExport(strings.NewReader(""), audit.Options{})
	if err != nil || head.Position != 0 || head.Hash != eventstore.GenesisHash {
		t.Fatalf("empty export: %+v, %v", head, err)
	}
}

func TestAReadErrorIsNotReportedAsTampering(t *testing.T) {
	t.Parallel()
	store := memstore.New(nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := audit.Verify(ctx, store, audit.Options{})
	if err == nil || errorsIsChain(err) {
		t.Fatalf("want a read error that is not a chain break, got %v", err)
	}
}

func errorsIsChain(err error) bool {
	var ae *audit.Error
	return err != nil && asError(err, &ae)
}

// Pages of a real store are large enough for AddBatch to hash on several
// goroutines; the position named must not depend on that.
func TestBatchedVerificationNamesTheSamePositions(t *testing.T) {
	t.Parallel()
	for _, at := range []int{1, 77, 128, 129, 300, 512} {
		recs := sealed(t, 512)
		recs[at-1].Metadata = []byte(`{"actor":"mallory"}`)
		_, err := audit.Verify(context.Background(), &sliceStore{recs: recs}, audit.Options{})
		wantBreak(t, err, uint64(at))
		_, err = audit.VerifyExport(bytes.NewReader(join(exportOf(t, recs))), audit.Options{})
		wantBreak(t, err, uint64(at))
		v := audit.NewVerifier(audit.Options{})
		err = v.AddBatch(recs[:256])
		if err == nil {
			err = v.AddBatch(recs[256:])
		}
		wantBreak(t, err, uint64(at))
	}
}

func TestAMalformedLineAfterABreakDoesNotHideTheBreak(t *testing.T) {
	t.Parallel()
	recs := sealed(t, 5)
	recs[1].Type = "Forged"
	export := append(join(exportOf(t, recs)), "not json\n"...)
	_, err := audit.VerifyExport(bytes.NewReader(export), audit.Options{})
	wantBreak(t, err, 2)
}
