package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/authledger/authledger/eventstore"
)

// parseLineReference is the first, encoding/json token-API implementation
// of parseLine, kept as the oracle of FuzzLineParser.
func parseLineReference(b []byte) (eventstore.Record, string) {
	var r eventstore.Record
	if len(bytes.TrimSpace(b)) == 0 {
		return r, "empty line"
	}
	if !utf8.Valid(b) {
		// encoding/json would silently replace the bad bytes, changing what
		// the hash covers.
		return r, "not valid UTF-8"
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return r, "not a JSON object"
	}
	seen := make(map[string]bool, len(fields))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return r, "invalid JSON: " + err.Error()
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return r, fmt.Sprintf("field %q: invalid JSON: %v", name, err)
		}
		if seen[name] {
			return r, fmt.Sprintf("field %q appears twice", name)
		}
		seen[name] = true
		if reason := setField(&r, name, raw); reason != "" {
			return r, reason
		}
	}
	if _, err := dec.Token(); err != nil {
		return r, "invalid JSON: " + err.Error()
	}
	if _, err := dec.Token(); err != io.EOF {
		return r, "trailing data after the JSON object"
	}
	for _, f := range fields {
		if !seen[f] {
			return r, fmt.Sprintf("field %q is missing", f)
		}
	}
	return r, ""
}

// FuzzLineParser holds the fast export-line scanner to the token-API
// reference: both accept the same lines and read the same records.
func FuzzLineParser(f *testing.F) {
	good := `{"position":1,"stream":"s","version":1,"id":"0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b","type":"t","recorded_at":"2026-01-02T03:04:05.000006Z","data":{"a":[1,{"b":"c"}]},"metadata":{},"prev_hash":"p","hash":"h"}`
	f.Add([]byte(good))
	f.Add([]byte(strings.Replace(good, `"s"`, `"s\u00e9\n"`, 1)))
	f.Add([]byte(strings.Replace(good, `{}`, `{"x":"]}"}`, 1)))
	f.Add([]byte(` { "position" : 1 } `))
	f.Add([]byte(`{"position":1,"position":2}`))
	f.Add([]byte(`{"data":{"a":1}}{}`))
	f.Add([]byte(`{"data":{"a":1]}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		got, gotReason := parseLine(line)
		want, wantReason := parseLineReference(line)
		if (gotReason == "") != (wantReason == "") {
			t.Fatalf("%q: fast parser says %q, reference %q", line, gotReason, wantReason)
		}
		if gotReason != "" {
			return
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%q: fast parser read %+v, reference %+v", line, got, want)
		}
	})
}

var (
	_ = bytes.TrimSpace
	_ = json.Valid
	_ = io.EOF
	_ = utf8.Valid
	_ eventstore.Record
)
