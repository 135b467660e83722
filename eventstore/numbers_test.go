package eventstore_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/authledger/authledger/eventstore"
)

// JCS (RFC 8785) reads every number as an IEEE 754 double, so two integers
// beyond 2^53 can share a digest: the ledger's hash would not tell them
// apart. That is why appends refuse them (DESIGN.md §3).
func TestIntegersBeyondTwoToThe53WouldHashAlike(t *testing.T) {
	t.Parallel()
	a, err := eventstore.CanonicalDigest([]byte(`{"n":9007199254740993}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := eventstore.CanonicalDigest([]byte(`{"n":9007199254740992}`))
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatalf("JCS digests differ (%s, %s): the premise of the ±2^53 rule no longer holds", a, b)
	}
	if err := eventstore.Validate(appendOf(`{"n":9007199254740992}`)); err != nil {
		t.Fatalf("2^53 itself is exact and must be accepted: %v", err)
	}
	err = eventstore.Validate(appendOf(`{"n":9007199254740993}`))
	if !errors.Is(err, eventstore.ErrUnsafeInteger) {
		t.Fatalf("2^53+1: err = %v, want ErrUnsafeInteger", err)
	}
}

func TestAppendsRefuseNumbersBeyondTwoToThe53ByPath(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, data, meta, field, path string
	}{
		{"2^53+1", `{"n":9007199254740993}`, ``, "data", "data.n"},
		{"-(2^53+1)", `{"n":-9007199254740993}`, ``, "data", "data.n"},
		{"a 20-digit id", `{"id":12345678901234567890}`, ``, "data", "data.id"},
		{"2^53+1 written with a fraction", `{"n":9007199254740993.0}`, ``, "data", "data.n"},
		{"2^53 and a half", `{"n":9007199254740992.5}`, ``, "data", "data.n"},
		{"2^53+1 written with an exponent", `{"n":9.007199254740993e15}`, ``, "data", "data.n"},
		{"1e16", `{"n":1E+16}`, ``, "data", "data.n"},
		{"a number JCS cannot even represent", `{"n":1e400}`, ``, "data", "data.n"},
		{"deep inside arrays and objects", `{"a":[1,{"b":[0,0,90071992547409930]}]}`, ``, "data", "data.a[1].b[2]"},
		{"under a member name that is not an identifier", `{"a b":{"\u00e9\"":1e17}}`, ``, "data", `data["a b"]["é\""]`},
		{"in metadata", `{}`, `{"request":{"seq":18446744073709551615}}`, "metadata", "metadata.request.seq"},
		{"after a safe number, the first unsafe one is named", `{"a":1,"b":9007199254740992,"c":[9007199254740994,1e300]}`, ``, "data", "data.c[0]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			appends := appendOf(c.data)
			appends[0].Events[0].Metadata = json.RawMessage(c.meta)
			err := eventstore.Validate(appends)
			var ie *eventstore.InvalidEventError
			if !errors.Is(err, eventstore.ErrUnsafeInteger) || !errors.Is(err, eventstore.ErrInvalidEvent) || !errors.As(err, &ie) {
				t.Fatalf("err = %v, want an *InvalidEventError matching ErrUnsafeInteger", err)
			}
			if ie.Field != c.field || ie.Path != c.path || ie.Index != 0 || ie.Stream != "s" {
				t.Fatalf("field %q path %q (event %d of %q), want %q %q", ie.Field, ie.Path, ie.Index, ie.Stream, c.field, c.path)
			}
			if !strings.Contains(err.Error(), c.path) {
				t.Fatalf("%q does not name %s", err, c.path)
			}
		})
	}
	for _, ok := range []string{
		`{"n":9007199254740992}`, `{"n":-9007199254740992}`, `{"n":900719925474099}`, `{"n":0}`, `{"n":-0}`,
		`{"n":0.1}`, `{"n":1e15}`, `{"n":9.007199254740992e15}`, `{"n":1e-400}`, `{"n":0e999999999999}`,
		`{"n":90071992547409.92e2}`, `{"s":"9007199254740993"}`, `{"n":1.5,"m":[2.25e-3,-7]}`,
	} {
		if err := eventstore.Validate(appendOf(ok)); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

// The rule is |value| <= 2^53 on the exact decimal value: a big.Rat holds
// every literal below exactly, so it is the reference.
func TestTheTwoToThe53BoundIsExact(t *testing.T) {
	t.Parallel()
	limit := new(big.Rat).SetInt(new(big.Int).Lsh(big.NewInt(1), 53))
	var lits []string
	for _, m := range []string{"9007199254740991", "9007199254740992", "9007199254740993", "9007199254740999", "9007199254741000", "1", "9", "90071992547409921"} {
		for _, sign := range []string{"", "-"} {
			for _, frac := range []string{"", ".0", ".000001", ".5", ".99"} {
				for _, exp := range []string{"", "e0", "e1", "e-1", "E+2", "e-17", "e-16", "e-15", "e15", "e16"} {
					lits = append(lits, sign+m+frac+exp)
				}
			}
		}
	}
	lits = append(lits, "0.9007199254740992e16", "0.9007199254740993e16", "0.00000000000000009007199254740993e32", "900719925474099200000e-5", "900719925474099200001e-5")
	for _, lit := range lits {
		v, ok := new(big.Rat).SetString(lit)
		if !ok {
			t.Fatalf("reference cannot parse %s", lit)
		}
		beyond := new(big.Rat).Abs(v).Cmp(limit) > 0
		err := eventstore.Validate(appendOf(fmt.Sprintf(`{"n":%s}`, lit)))
		if got := errors.Is(err, eventstore.ErrUnsafeInteger); got != beyond {
			t.Errorf("%s: refused %v (%v), want %v", lit, got, err, beyond)
		}
	}
}
