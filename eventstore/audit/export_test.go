package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/audit"
	"github.com/authledger/authledger/eventstore/memstore"
)

func TestExportWritesOneEnvelopePerLineAsTheDesignSays(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := memstore.New(func() time.Time { return t0 })
	_, err := store.Append(ctx, eventstore.StreamAppend{Stream: "keyring", Events: []eventstore.Event{
		{ID: "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b", Type: "KeyGenerated", Data: json.RawMessage("{\n  \"kid\": \"k1\", \"html\": \"<&>\", \"n\": 1e2\n}")},
		{Type: "KeyActivated", Data: json.RawMessage(`{"kid":"k1"}`), Metadata: json.RawMessage(`{"actor":"ops"}`)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	head, err := audit.Export(ctx, &out, store)
	if err != nil {
		t.Fatal(err)
	}
	if head.Position != 2 {
		t.Fatalf("head %+v", head)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %d:\n%s", len(lines), out.String())
	}
	recs, _ := store.ReadAll(ctx, 0, 0)
	want := fmt.Sprintf(`{"position":1,"stream":"keyring","version":1,"id":"0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b","type":"KeyGenerated","recorded_at":"2026-01-02T03:04:05.000006Z","data":{"kid":"k1","html":"<&>","n":1e2},"metadata":{},"prev_hash":"%s","hash":"%s"}`, eventstore.GenesisHash, recs[0].Hash)
	if lines[0] != want {
		t.Fatalf("line 1:\n got %s\nwant %s", lines[0], want)
	}
	// Every line is a JSON object whose numbers are numbers and whose
	// data/metadata are objects, as an outside tool would read it.
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if _, ok := m["position"].(float64); !ok {
			t.Fatalf("line %d: position is %T", i+1, m["position"])
		}
		if _, ok := m["version"].(float64); !ok {
			t.Fatalf("line %d: version is %T", i+1, m["version"])
		}
		for _, f := range []string{"data", "metadata"} {
			if _, ok := m[f].(map[string]any); !ok {
				t.Fatalf("line %d: %s is %T", i+1, f, m[f])
			}
		}
		if len(m) != 10 {
			t.Fatalf("line %d: %d fields", i+1, len(m))
		}
	}
	if got, err := audit.VerifyExport(&out, audit.Options{}); err != nil || got.Hash != head.Hash {
		t.Fatalf("the export does not verify: %+v %v", got, err)
	}
}

func TestDecodingAnExportGivesBackTheRecords(t *testing.T) {
	t.Parallel()
	recs := sealed(t, 50)
	d := audit.NewDecoder(bytes.NewReader(join(exportOf(t, recs))))
	for i, want := range recs {
		got, err := d.Next()
		if err != nil {
			t.Fatalf("record %d: %v", i+1, err)
		}
		if got.Position != want.Position || got.Stream != want.Stream || got.Version != want.Version || got.ID != want.ID ||
			got.Type != want.Type || !got.RecordedAt.Equal(want.RecordedAt) || !bytes.Equal(got.Data, want.Data) ||
			!bytes.Equal(got.Metadata, want.Metadata) || got.PrevHash != want.PrevHash || got.Hash != want.Hash {
			t.Fatalf("record %d:\n got %+v\nwant %+v", i+1, got, want)
		}
		if d.Line() != i+1 {
			t.Fatalf("Line() = %d, want %d", d.Line(), i+1)
		}
	}
	if _, err := d.Next(); err != io.EOF {
		t.Fatalf("after the last line: %v, want io.EOF", err)
	}
}

func TestExportRefusesWhatJSONCannotCarry(t *testing.T) {
	t.Parallel()
	r := sealed(t, 1)[0]
	r.Stream = "session-\xff"
	if _, err := audit.AppendLine(nil, r); err == nil || !strings.Contains(err.Error(), "position 1: stream is not valid UTF-8") {
		t.Fatalf("want a UTF-8 error naming the position, got %v", err)
	}
}

func TestTheDecoderRejectsMalformedLinesByNumber(t *testing.T) {
	t.Parallel()
	good := exportOf(t, sealed(t, 2))
	line2 := func(f func(m map[string]json.RawMessage)) []byte {
		m := map[string]json.RawMessage{}
		if err := json.Unmarshal(good[1], &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return append(b, '\n')
	}
	cases := []struct {
		name  string
		line2 []byte
		want  string
	}{
		{"an unknown field", line2(func(m map[string]json.RawMessage) { m["extra"] = json.RawMessage(`1`) }), `line 2: unknown field "extra"`},
		{"a missing field", line2(func(m map[string]json.RawMessage) { delete(m, "metadata") }), `line 2: field "metadata" is missing`},
		{"a position given as a string", line2(func(m map[string]json.RawMessage) { m["position"] = json.RawMessage(`"2"`) }), `line 2: field "position": want a positive integer, got a string`},
		{"a fractional version", line2(func(m map[string]json.RawMessage) { m["version"] = json.RawMessage(`1.5`) }), `line 2: field "version": want a positive integer, got a number that is not a positive integer`},
		{"a zero position", line2(func(m map[string]json.RawMessage) { m["position"] = json.RawMessage(`0`) }), `line 2: field "position": want a positive integer below 2^64, got 0`},
		{"a position beyond 64 bits", line2(func(m map[string]json.RawMessage) { m["position"] = json.RawMessage(`18446744073709551616`) }), `line 2: field "position": want a positive integer below 2^64`},
		{"data that is an array", line2(func(m map[string]json.RawMessage) { m["data"] = json.RawMessage(`[1,2]`) }), `line 2: field "data": want a JSON object, got an array`},
		{"metadata that is null", line2(func(m map[string]json.RawMessage) { m["metadata"] = json.RawMessage(`null`) }), `line 2: field "metadata": want a JSON object, got null`},
		{"a stream that is a number", line2(func(m map[string]json.RawMessage) { m["stream"] = json.RawMessage(`7`) }), `line 2: field "stream": want a string, got a number`},
		{"a hash that is a boolean", line2(func(m map[string]json.RawMessage) { m["hash"] = json.RawMessage(`true`) }), `line 2: field "hash": want a string, got a boolean`},
		{"a timestamp with three fractional digits", line2(func(m map[string]json.RawMessage) { m["recorded_at"] = json.RawMessage(`"2026-01-02T03:04:05.000Z"`) }), `line 2: field "recorded_at": recorded_at "2026-01-02T03:04:05.000Z": want RFC 3339 UTC with 6 fractional digits`},
		{"a timestamp with an offset", line2(func(m map[string]json.RawMessage) {
			m["recorded_at"] = json.RawMessage(`"2026-01-02T03:04:05.000006+01:00"`)
		}), `line 2: field "recorded_at"`},
		{"a duplicated field", []byte(`{"position":2,"position":2}` + "\n"), `line 2: field "position" appears twice`},
		{"an array instead of an object", []byte("[1]\n"), `line 2: not a JSON object`},
		{"an empty line", []byte("\n"), `line 2: empty line`},
		{"trailing data after the object", append(bytes.TrimSuffix(good[1], []byte("\n")), []byte(" {}\n")...), `line 2: trailing data after the JSON object`},
		{"truncated JSON", good[1][:40], `line 2: `},
		{"bytes that are not UTF-8", []byte("{\"stream\":\"\xff\"}\n"), `line 2: not valid UTF-8`},
		{"a line over the size limit", append(bytes.Repeat([]byte(" "), audit.MaxLineBytes+1), '\n'), fmt.Sprintf("line 2: longer than %d bytes", audit.MaxLineBytes)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := audit.NewDecoder(bytes.NewReader(append(append([]byte(nil), good[0]...), tc.line2...)))
			if _, err := d.Next(); err != nil {
				t.Fatalf("line 1: %v", err)
			}
			_, err := d.Next()
			var de *audit.DecodeError
			if !errors.As(err, &de) || de.Line != 2 || !errors.Is(err, audit.ErrMalformedExport) {
				t.Fatalf("want *DecodeError on line 2, got %v", err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("\n got %q\nwant prefix %q", err, tc.want)
			}
			// Verifying the same export names the position the chain had
			// reached and keeps the line for the operator.
			_, verr := audit.VerifyExport(bytes.NewReader(append(append([]byte(nil), good[0]...), tc.line2...)), audit.Options{})
			wantBreak(t, verr, 2)
			if !errors.As(verr, &de) || !strings.Contains(verr.Error(), tc.want) {
				t.Fatalf("verify error %q does not carry %q", verr, tc.want)
			}
		})
	}
}

func TestALastLineWithoutNewlineIsAccepted(t *testing.T) {
	t.Parallel()
	lines := exportOf(t, sealed(t, 3))
	b := bytes.TrimSuffix(join(lines), []byte("\n"))
	head, err := audit.VerifyExport(bytes.NewReader(b), audit.Options{})
	if err != nil || head.Position != 3 {
		t.Fatalf("%+v %v", head, err)
	}
}

// The export of a long ledger is read line by line, never held whole: the
// first record comes back while the writer still holds the rest (a decoder
// that waited for EOF would hang here until the test times out).
func TestDecoderReadsLineByLine(t *testing.T) {
	t.Parallel()
	lines := exportOf(t, sealed(t, 3))
	pr, pw := io.Pipe()
	go func() { _, _ = pw.Write(lines[0]) }()
	d := audit.NewDecoder(pr)
	first, err := d.Next()
	if err != nil || first.Position != 1 {
		t.Fatalf("%+v %v", first, err)
	}
	go func() {
		_, _ = pw.Write(join(lines[1:]))
		_ = pw.Close()
	}()
	n := 1
	for {
		_, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 3 {
		t.Fatalf("read %d records, want 3", n)
	}
}
