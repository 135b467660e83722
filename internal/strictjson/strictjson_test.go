package strictjson_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/authledger/authledger/internal/strictjson"
)

type inner struct {
	Kid string `json:"kid"`
}

type body struct {
	Subject string            `json:"subject"`
	AMR     []string          `json:"amr"`
	ACR     string            `json:"acr,omitempty"`
	Key     *inner            `json:"key,omitempty"`
	Keys    []inner           `json:"keys,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	Raw     json.RawMessage   `json:"raw,omitempty"`
	At      time.Time         `json:"at,omitzero"`
	Skipped string            `json:"-"`
	Plain   int
}

func TestUnmarshalRefusesWhatTwoParsersCouldReadDifferently(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		want     error
		path     string
	}{
		{"a repeated key", `{"subject":"u","subject":"v"}`, strictjson.ErrDuplicateKey, ""},
		{"a repeated key inside a nested object", `{"key":{"kid":"a","kid":"b"}}`, strictjson.ErrDuplicateKey, "/key"},
		{"a repeated key inside an array element", `{"keys":[{"kid":"a"},{"kid":"a","kid":"b"}]}`, strictjson.ErrDuplicateKey, "/keys/1"},
		{"a repeated key in a map", `{"labels":{"a":"1","a":"2"}}`, strictjson.ErrDuplicateKey, "/labels"},
		{"a repeated key in raw JSON", `{"raw":{"x":1,"x":2}}`, strictjson.ErrDuplicateKey, "/raw"},
		{"a repeated key spelt with an escape", `{"subject":"u","sub\u006aect":"v"}`, strictjson.ErrDuplicateKey, ""},
		{"an unknown field", `{"subject":"u","admin":true}`, strictjson.ErrUnknownField, ""},
		{"an unknown nested field", `{"key":{"kid":"a","d":"x"}}`, strictjson.ErrUnknownField, "/key"},
		{"a case variant", `{"Subject":"u"}`, strictjson.ErrCaseVariant, ""},
		{"a case variant beside the field", `{"subject":"u","SUBJECT":"v"}`, strictjson.ErrCaseVariant, ""},
		{"a case variant of an untagged field", `{"plain":1}`, strictjson.ErrCaseVariant, ""},
		{"a Unicode fold of a field", `{"ſubject":"u"}`, strictjson.ErrUnknownField, ""},
		{"a field tagged out", `{"Skipped":"x"}`, strictjson.ErrUnknownField, ""},
		{"a second object", `{"subject":"u"}{"subject":"v"}`, strictjson.ErrTrailingData, ""},
		{"trailing garbage", `{"subject":"u"} x`, strictjson.ErrTrailingData, ""},
		{"an array", `[{"subject":"u"}]`, strictjson.ErrNotObject, ""},
		{"null", `null`, strictjson.ErrNotObject, ""},
		{"empty", ``, strictjson.ErrSyntax, ""},
		{"truncated", `{"subject":"u"`, strictjson.ErrSyntax, ""},
		{"invalid UTF-8", "{\"subject\":\"\xff\"}", strictjson.ErrSyntax, ""},
		{"a wrong type", `{"amr":"pwd"}`, strictjson.ErrType, "/amr"},
		{"a time that does not parse", `{"at":"yesterday"}`, strictjson.ErrType, ""},
		{"deep nesting", `{"raw":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, strictjson.ErrTooDeep, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var v body
			err := strictjson.Unmarshal([]byte(tc.in), &v)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Unmarshal(%s) = %v, want %v", tc.in, err, tc.want)
			}
			var se *strictjson.Error
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not a *strictjson.Error", err)
			}
			if tc.path != "" && se.Path != tc.path {
				t.Fatalf("path = %q, want %q", se.Path, tc.path)
			}
		})
	}
}

func TestUnmarshalAcceptsTheDocumentedShape(t *testing.T) {
	t.Parallel()
	in := ` {"subject":"u","amr":["webauthn"],"key":{"kid":"k"},"keys":[{"kid":"a"},{"kid":"b"}],"labels":{"a":"1","A":"2"},"raw":{"Kid":1,"kid":2},"at":"2026-01-02T03:04:05Z","Plain":3} ` + "\n"
	var v body
	if err := strictjson.Unmarshal([]byte(in), &v); err != nil {
		t.Fatal(err)
	}
	if v.Subject != "u" || len(v.Keys) != 2 || v.Labels["A"] != "2" || v.Plain != 3 || v.At.IsZero() {
		t.Fatalf("decoded %+v", v)
	}
}

func TestCaseVariantNamesTheField(t *testing.T) {
	t.Parallel()
	var v body
	err := strictjson.Unmarshal([]byte(`{"Subject":"u"}`), &v)
	var se *strictjson.Error
	if !errors.As(err, &se) || se.Key != "Subject" || se.Want != "subject" {
		t.Fatalf("err = %#v", err)
	}
	if d := se.Detail(); !strings.Contains(d, `"Subject"`) || !strings.Contains(d, `"subject"`) || strings.HasPrefix(d, "strictjson") {
		t.Fatalf("detail = %q", d)
	}
}

func TestAnErrorEchoesALongKeyOnlyInPart(t *testing.T) {
	t.Parallel()
	key := strings.Repeat("k", 5000)
	var v body
	err := strictjson.Unmarshal([]byte(`{"`+key+`":1}`), &v)
	if !errors.Is(err, strictjson.ErrUnknownField) || len(err.Error()) > 200 {
		t.Fatalf("err (%d bytes) = %.80v", len(err.Error()), err)
	}
}

func TestCheckRefusesDuplicatesWithoutASchema(t *testing.T) {
	t.Parallel()
	if err := strictjson.Check([]byte(`{"event":"x","anything":{"a":1}}`)); err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{`{"timestamp":1,"timestamp":2}`, `{"a":{"b":1,"b":1}}`, `{} {}`} {
		if err := strictjson.Check([]byte(in)); err == nil {
			t.Fatalf("Check(%s) accepted", in)
		}
	}
}

// countKeys counts every object member in data at every depth, duplicates
// included: a reading that keeps what a map would merge.
func countKeys(data []byte) int {
	dec := json.NewDecoder(bytes.NewReader(data))
	n := 0
	var value func()
	value = func() {
		tok, err := dec.Token()
		if err != nil {
			return
		}
		switch tok {
		case json.Delim('{'):
			for dec.More() {
				if _, err := dec.Token(); err != nil {
					return
				}
				n++
				value()
			}
			_, _ = dec.Token()
		case json.Delim('['):
			for dec.More() {
				value()
			}
			_, _ = dec.Token()
		}
	}
	value()
	return n
}

func countDecoded(v any) int {
	switch v := v.(type) {
	case map[string]any:
		n := len(v)
		for _, x := range v {
			n += countDecoded(x)
		}
		return n
	case []any:
		n := 0
		for _, x := range v {
			n += countDecoded(x)
		}
		return n
	}
	return 0
}

// FuzzUnmarshal: the strict decoder never panics, and whatever it accepts
// is one valid JSON object without duplicate keys at any depth, whose
// re-encoding it accepts again as the same value.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{
		`{"subject":"u","amr":["webauthn"],"acr":"aal1"}`,
		`{"subject":"u","subject":"v"}`,
		`{"Subject":"u"}`,
		`{"subject":"u"} {}`,
		`{"key":{"kid":"a","kid":"b"}}`,
		`{"labels":{"a":"1","b":"2"},"raw":{"x":[1,{"y":null}]}}`,
		`{"raw":{"a":1,"\u0061":2}}`,
		`{"raw":{"\ud800":1,"\udc00":2}}`,
		`{"keys":[{"kid":"a"}],"Plain":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var anyV map[string]any
		if err := strictjson.Unmarshal(data, &anyV); err == nil {
			if !json.Valid(data) {
				t.Fatalf("accepted invalid JSON %q", data)
			}
			// A map merges duplicates: same count means there were none.
			if got, want := countDecoded(anyV), countKeys(data); got != want {
				t.Fatalf("accepted %q with duplicate keys (%d members decoded, %d sent)", data, got, want)
			}
			re, err := json.Marshal(anyV)
			if err != nil {
				t.Fatal(err)
			}
			var again map[string]any
			if strictjson.Check(re) != nil {
				t.Fatalf("re-encoding %s has duplicate keys", re)
			}
			if err := strictjson.Unmarshal(re, &again); err != nil || !reflect.DeepEqual(anyV, again) {
				t.Fatalf("re-encoding %s refused or changed: %v", re, err)
			}
		}
		var st body
		if err := strictjson.Unmarshal(data, &st); err == nil {
			if strictjson.Check(data) != nil {
				t.Fatalf("accepted %q into a struct but Check refuses it", data)
			}
			re, err := json.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			var again body
			if err := strictjson.Unmarshal(re, &again); err != nil {
				t.Fatalf("re-encoding %s refused: %v", re, err)
			}
		}
	})
}
