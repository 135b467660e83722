package refreshtoken_test

import (
	"errors"
	"testing"
	"time"

	rt "github.com/authledger/authledger/domain/refreshtoken"
)

const (
	jktA = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
	jktB = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
)

func boundStart() rt.Started {
	s := started()
	s.JKT = jktA
	return s
}

// RFC 9449 §5: a family started with a DPoP key refreshes only with
// proofs by that key; an unbound family refreshes with or without one.
func TestFamilyBoundToADPoPKey(t *testing.T) {
	t.Parallel()
	at := t0.Add(time.Minute)
	in := func(jkt string, tok rt.TokenID, gen uint64) rt.RotateInput {
		return rt.RotateInput{Presented: present(tok, gen), ClientID: "app", JKT: jkt, Next: tk3, KeyID: "k1", ExpiresAt: at.Add(time.Hour), Now: at, Grace: 10 * time.Second}
	}
	cases := []struct {
		name  string
		given []rt.Event
		when  rt.RotateInput
		kind  rt.OutcomeKind
		err   error
	}{
		{"a bound family rotates with a proof by its key", []rt.Event{boundStart()}, in(jktA, tk1, 1), rt.OutcomeRotated, nil},
		{"a bound family refuses another key", []rt.Event{boundStart()}, in(jktB, tk1, 1), 0, rt.ErrKeyMismatch},
		{"a bound family refuses a refresh without a proof", []rt.Event{boundStart()}, in("", tk1, 1), 0, rt.ErrKeyMismatch},
		{"a thief's spent token without the key is refused, not reuse that revokes", []rt.Event{boundStart(), rotated(tk1, tk2, 2, t0)}, in(jktB, tk1, 1), 0, rt.ErrKeyMismatch},
		{"a spent token with the key is still reuse", []rt.Event{boundStart(), rotated(tk1, tk2, 2, t0)}, rt.RotateInput{Presented: present(tk1, 1), ClientID: "app", JKT: jktA, Next: tk3, KeyID: "k1", Now: at}, rt.OutcomeReuse, nil},
		{"the grace retry needs the key too", []rt.Event{boundStart(), rotated(tk1, tk2, 2, at)}, in(jktB, tk1, 1), 0, rt.ErrKeyMismatch},
		{"an unbound family rotates with a proof", []rt.Event{started()}, in(jktB, tk1, 1), rt.OutcomeRotated, nil},
		{"an unbound family rotates without one", []rt.Event{started()}, in("", tk1, 1), rt.OutcomeRotated, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := rt.Load(fam, tc.given)
			out, err := f.Rotate(tc.when)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if tc.err != nil {
				if len(f.Pending()) != 0 {
					t.Fatalf("a refused key recorded %v", f.Pending())
				}
				return
			}
			if out.Kind != tc.kind {
				t.Fatalf("kind %v, want %v", out.Kind, tc.kind)
			}
		})
	}
}

func TestABoundStartKeepsItsKeyThroughDecode(t *testing.T) {
	t.Parallel()
	b, err := jsonMarshal(boundStart())
	if err != nil {
		t.Fatal(err)
	}
	e, err := rt.Decode(rt.TypeStarted, b)
	if err != nil {
		t.Fatal(err)
	}
	if got := rt.Load(fam, []rt.Event{e}).Info().JKT; got != jktA {
		t.Fatalf("JKT after decode %q", got)
	}
}
