package eventstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"regexp"
	"strings"
	"testing"
)

// longExponent marks numbers a big.Rat reference cannot afford to expand.
var longExponent = regexp.MustCompile(`[eE][+-]?[0-9]{4,}`)

// FuzzScanJSON holds the append path's scanner to encoding/json: it accepts
// exactly what json.Valid accepts, and finds a number beyond ±2^53 exactly
// when an exact (big.Rat) reading of the document's numbers does.
func FuzzScanJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,2.5,-0,1e2,"x\u00e9\n"],"b":{"c":null,"d":true}}`, `{"n":9007199254740993}`,
		`{"n":9007199254740992}`, `{"n":-9.007199254740993e15}`, `[01]`, `{"a":1,}`, `"\ud800"`, `1.`, `{"a" 1}`, ` [ ] `, `{"n":1e400}`} {
		f.Add([]byte(s))
	}
	limit := new(big.Rat).SetInt(new(big.Int).Lsh(big.NewInt(1), 53))
	f.Fuzz(func(t *testing.T, b []byte) {
		path, valid := scanJSON(b, "$")
		if valid != json.Valid(b) {
			t.Fatalf("scan says valid=%v, json.Valid %v", valid, !valid)
		}
		if !valid || longExponent.Match(b) {
			return
		}
		want := false
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		for {
			tok, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("json.Valid accepted what the decoder refuses: %v", err)
			}
			if n, ok := tok.(json.Number); ok {
				v, ok := new(big.Rat).SetString(n.String())
				if !ok {
					t.Fatalf("reference cannot read %s", n)
				}
				if v.Abs(v).Cmp(limit) > 0 {
					want = true
					break
				}
			}
		}
		if got := path != ""; got != want {
			t.Fatalf("unsafe number found %v (path %q), reference %v", got, path, want)
		}
		if path != "" && !strings.HasPrefix(path, "$") {
			t.Fatalf("path %q lacks its root", path)
		}
	})
}

// BenchmarkScanJSON compares the append path's scan with the json.Valid
// it replaced: the ±2^53 check must not make validation dearer.
// go test -run '^$' -bench ScanJSON ./eventstore/
func BenchmarkScanJSON(b *testing.B) {
	doc := []byte(`{"family":"0193b1a2-7c3d-7e4f-8a9b-0c1d2e3f4a5b","generation":7,"client_id":"svc-billing","at":"2026-01-02T03:04:05Z","amr":["pwd","hwk"]}`)
	b.Run("json.Valid", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if !json.Valid(doc) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("scanJSON", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if _, ok := scanJSON(doc, "data"); !ok {
				b.Fatal("invalid")
			}
		}
	})
}
