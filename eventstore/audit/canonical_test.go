package audit

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gowebpki/jcs"

	"github.com/authledger/authledger/eventstore"
)

// canonicalCases: fast says whether the fast path handles the document
// (when it does, its output must equal JCS's).
var canonicalCases = []struct {
	doc  string
	fast bool
}{
	{`{}`, true},
	{` { } `, true},
	{`{"a":1,"b":[true,false,null],"c":{"d":"é ü 😀"},"n":-123456789012345}`, true},
	{`{"b":1,"a":{"z":[],"y":{}},"c":"x/y <&>"}`, true},
	{"{\n  \"kid\": \"k1\",\n  \"alg\": [ \"EdDSA\" ]\n}", true},
	{`{"a":1,"a":1}`, false},          // duplicate member
	{`{"a":1.0}`, false},              // fraction
	{`{"a":1e2}`, false},              // exponent
	{`{"a":-0}`, false},               // negative zero prints as 0
	{`{"a":01}`, false},               // not JSON
	{`{"a":1234567890123456}`, false}, // 16 digits may round
	{`{"a":"\u0041"}`, false},         // escape
	{`{"é":1}`, false},                // non-ASCII name: UTF-16 order
	{`{"a":"` + "\x7f" + `"}`, false}, // DEL, left to the general path
	{`{"a":"` + "\xff" + `"}`, false}, // not UTF-8
	{`{"a":1}x`, false},               // trailing bytes
	{`[1]`, false},                    // not an object
	{`{"a":[1,]}`, false},             // not JSON
	{`{"a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, false}, // too deep for the fast path
}

func TestTheFastCanonicalizerAgreesWithJCS(t *testing.T) {
	t.Parallel()
	for _, tc := range canonicalCases {
		c := canon{in: []byte(tc.doc)}
		out, ok := c.canonicalize()
		if ok != tc.fast {
			t.Errorf("fast path on %q: %v, want %v", tc.doc, ok, tc.fast)
			continue
		}
		if ok {
			want, err := jcs.Transform([]byte(tc.doc))
			if err != nil || !bytes.Equal(out, want) {
				t.Errorf("fast path wrote %q, JCS %q (%v)", out, want, err)
			}
		}
	}
}

func TestTheVerifiersHashIsEventstoresHash(t *testing.T) {
	t.Parallel()
	docs := []string{`{}`, `{"n":1,"s":"x"}`, `{"s":"x","n":1}`, "{\n \"f\": 1.50, \"e\": 1E3 }", `{"u":"\u00e9\n"}`, `{"big":12345678901234567}`}
	for i, d := range docs {
		for j, m := range docs {
			r := eventstore.Record{
				Position: uint64(i + 1), Stream: "session-x", Version: uint64(j + 1), ID: "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b",
				Type: "T", RecordedAt: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), Data: []byte(d), Metadata: []byte(m),
				PrevHash: eventstore.GenesisHash,
			}
			want, err := eventstore.ComputeHash(r)
			if err != nil {
				t.Fatal(err)
			}
			var h hasher
			got, err := h.hash(r)
			if err != nil || got != want {
				t.Fatalf("data %q metadata %q: got %s %v, want %s", d, m, got, err, want)
			}
		}
	}
}

// FuzzCanonicalFastPath holds the verifier's fast canonicalizer to the
// general JCS one: whatever it accepts, JCS must accept and write the same.
func FuzzCanonicalFastPath(f *testing.F) {
	for _, tc := range canonicalCases {
		f.Add([]byte(tc.doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		c := canon{in: doc}
		out, ok := c.canonicalize()
		if !ok {
			return
		}
		want, err := jcs.Transform(doc)
		if err != nil {
			t.Fatalf("fast path accepted %q, which JCS rejects: %v", doc, err)
		}
		if !bytes.Equal(out, want) {
			t.Fatalf("fast path wrote %q for %q, JCS %q", out, doc, want)
		}
	})
}
