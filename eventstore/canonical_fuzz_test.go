package eventstore_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gowebpki/jcs"

	"github.com/authledger/authledger/eventstore"
)

type fuzzInner struct {
	Z string   `json:"z"`
	A []string `json:"a,omitempty"`
	K uint16   `json:"k"`
}

type fuzzID string

func (id fuzzID) MarshalText() ([]byte, error) { return []byte("id:" + string(id)), nil }

// fuzzEvent has every shape a domain event uses: strings, integers,
// times, slices, pointers, maps, omitempty/omitzero, names needing order.
type fuzzEvent struct {
	ID       string            `json:"id"`
	Name     string            `json:"name,omitempty"`
	N        int64             `json:"n"`
	U        uint64            `json:"u,omitempty"`
	OK       bool              `json:"ok"`
	At       time.Time         `json:"at"`
	Until    time.Time         `json:"until,omitzero"`
	Tags     []string          `json:"tags"`
	Raw      []byte            `json:"raw,omitempty"`
	Inner    *fuzzInner        `json:"inner,omitempty"`
	Inners   []fuzzInner       `json:"inners"`
	M        map[string]string `json:"m,omitempty"`
	Any      any               `json:"any,omitempty"`
	Family   fuzzID            `json:"family"`
	Unicode  string            `json:"ünï"`
	Emoji    string            `json:"😀"`
	Private  string            `json:"\uE000"`
	Skip     string            `json:"-"`
	private  string
	Plain    int
	Scope    string `json:"scope,omitempty"`
	A        string `json:"a"`
	Capital  string `json:"B"`
	Interval int32  `json:"interval"`
}

// FuzzCanonicalMatchesJCS: the direct canonical encoding equals
// jcs.Transform of encoding/json's, byte for byte, or refuses exactly the
// values the library path refuses or would change (integers beyond ±2^53,
// map keys that are not UTF-8).
func FuzzCanonicalMatchesJCS(f *testing.F) {
	f.Add("svc-1", "name", "k", "v", int64(7), uint64(0), true, int64(1_700_000_000_123456789), []byte("raw"), "\u2028<&>\"\\\x01\x7f")
	f.Add("", "", "", "", int64(-1), uint64(1<<53), false, int64(0), []byte(nil), "\xff\xfe")
	f.Add("é", "\U0001F600", "\uE000", "\U0001F600", int64(1<<53+1), uint64(1<<60), false, int64(-62135596800000000), []byte{0, 255}, "\t\n\r\b\f")
	f.Fuzz(func(t *testing.T, id, name, key, val string, n int64, u uint64, ok bool, at int64, raw []byte, text string) {
		ev := fuzzEvent{ID: id, Name: name, N: n, U: u, OK: ok, At: time.Unix(0, at).UTC(), Tags: []string{text, key},
			Raw: raw, Family: fuzzID(val), Unicode: text, Emoji: name, Private: key, Skip: "never", private: "never", Plain: len(text),
			Scope: val, A: text, Capital: id, Interval: int32(n)}
		if ok {
			ev.Until = time.Unix(0, at/2)
			ev.Inner = &fuzzInner{Z: text, A: []string{val}, K: uint16(u)}
			ev.Inners = []fuzzInner{{Z: key}, {Z: val, A: []string{}}}
			ev.M = map[string]string{key: val, val: key, text: name, "": id}
			ev.Any = map[string]any{"x": []any{text, int64(3), nil, true}, key: name}
		}
		lib, libErr := json.Marshal(ev)
		var want []byte
		if libErr == nil {
			want, libErr = jcs.Transform(lib)
		}
		got, err := eventstore.MarshalCanonical(ev)
		if err != nil {
			if !errors.Is(err, eventstore.ErrNotCanonicalizable) {
				t.Fatalf("unexpected error %v", err)
			}
			unsafeInt := n > 1<<53 || n < -(1<<53) || u > 1<<53
			badKey := ok && (!utf8.ValidString(key) || !utf8.ValidString(val) || !utf8.ValidString(text))
			badTime := libErr != nil
			if !unsafeInt && !badKey && !badTime {
				t.Fatalf("refused a value the library encodes: %s", lib)
			}
			return
		}
		if libErr != nil {
			t.Fatalf("encoded a value the library refuses (%v): %s", libErr, got)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("canonical encoding differs from jcs.Transform(json.Marshal):\n got %s\nwant %s", got, want)
		}
	})
}

// A Canonical event seals to the hash the library path gives the same
// bytes, and to the one audit verify recomputes (ComputeHash, JCS library).
func TestACanonicalEventHashesAsTheLibraryPathDoes(t *testing.T) {
	ev := fuzzEvent{ID: "svc-1", Name: "n\u2028", N: 42, At: time.Unix(1_800_000_000, 5).UTC(), Tags: []string{"b", "a"},
		M: map[string]string{"é": "1", "z": "2", "\U0001F600": "3", "\uE000": "4"}}
	data, err := eventstore.MarshalCanonical(ev)
	if err != nil {
		t.Fatal(err)
	}
	md, _ := eventstore.MarshalCanonical(map[string]string{"actor": "svc-1", "request_id": "r<1>"})
	seal := func(canonical bool) eventstore.Record {
		p, err := eventstore.Prepare([]eventstore.StreamAppend{{Stream: "s", Events: []eventstore.Event{
			{ID: "0193a0b1-5e6f-7a8b-9c0d-1e2f3a4b5c6d", Type: "t.v1", Data: data, Metadata: md, Canonical: canonical}}}})
		if err != nil {
			t.Fatal(err)
		}
		return p.Seal(eventstore.Head{}, time.Unix(1_800_000_000, 0), nil)[0]
	}
	lean, library := seal(true), seal(false)
	recomputed, err := eventstore.ComputeHash(lean)
	if err != nil {
		t.Fatal(err)
	}
	if lean.Hash != library.Hash || lean.Hash != recomputed {
		t.Fatalf("lean %s, library %s, recomputed %s", lean.Hash, library.Hash, recomputed)
	}
}

// The Canonical mark skips validation only for bodies shaped as JCS
// writes them; anything else is validated as ever.
func TestACanonicalMarkDoesNotLetABadBodyThrough(t *testing.T) {
	for _, data := range []string{` {"a":1}`, `{"a":1} `, `[1]`, `{"a":1}{`} {
		_, err := eventstore.Prepare([]eventstore.StreamAppend{{Stream: "s", Events: []eventstore.Event{{Type: "t.v1", Data: json.RawMessage(data), Canonical: true}}}})
		if data == ` {"a":1}` || data == `{"a":1} ` {
			if err != nil {
				t.Fatalf("%q: %v (the library path accepts it)", data, err)
			}
			continue
		}
		var ie *eventstore.InvalidEventError
		if !errors.As(err, &ie) {
			t.Fatalf("%q: err = %v, want an InvalidEventError", data, err)
		}
	}
}

// issuedLike is the shape of token.IssuedEvent, the event of every token.
type issuedLike struct {
	JTI       string    `json:"jti"`
	Class     string    `json:"class"`
	Subject   string    `json:"sub"`
	ClientID  string    `json:"client_id"`
	Audience  []string  `json:"aud"`
	Scope     string    `json:"scope,omitempty"`
	SessionID string    `json:"sid,omitempty"`
	FamilyID  string    `json:"family_id,omitempty"`
	KeyID     string    `json:"kid"`
	IssuedAt  time.Time `json:"iat"`
	ExpiresAt time.Time `json:"exp"`
}

// BenchmarkEncodeAndPrepare is encoding one token-issued event and its
// metadata plus the append's digest work: encoding/json and the JCS
// library (before) against the direct canonical encoding (after).
//
//	go test -run '^$' -bench EncodeAndPrepare ./eventstore/
func BenchmarkEncodeAndPrepare(b *testing.B) {
	now := time.Now().UTC()
	ev := issuedLike{JTI: "Jq3kX0b1u2l9QeW5aZr7Fw", Class: "m2m", Subject: "svc-0123456789abcdef01234567", ClientID: "svc-0123456789abcdef01234567",
		Audience: []string{"https://api.example"}, Scope: "reports:read", KeyID: "nitEEXLlKnVewuHlkXBNyPBFzlmeXcAWVlRV0XMYPxU", IssuedAt: now, ExpiresAt: now.Add(30 * time.Minute)}
	meta := map[string]string{"actor": "client:svc-0123456789abcdef01234567", "request_id": "RmVnkiNTSeThtnmrUvcwzMtMzZCjPWbl"}
	for _, c := range []struct {
		name   string
		encode func(any) ([]byte, error)
		mark   bool
	}{{"json+jcs", json.Marshal, false}, {"canonical", eventstore.MarshalCanonical, true}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				data, err := c.encode(ev)
				if err != nil {
					b.Fatal(err)
				}
				md, _ := c.encode(meta)
				if _, err := eventstore.Prepare([]eventstore.StreamAppend{{Stream: "token-1", Expected: eventstore.NoStream(),
					Events: []eventstore.Event{{Type: "token.issued.v1", Data: data, Metadata: md, Canonical: c.mark}}}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
