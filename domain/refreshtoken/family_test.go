package refreshtoken_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	rt "github.com/authledger/authledger/domain/refreshtoken"
)

var (
	t0  = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	fam = rt.FamilyID{1}
	tk1 = rt.TokenID{1}
	tk2 = rt.TokenID{2}
	tk3 = rt.TokenID{3}
)

func started() rt.Started {
	return rt.Started{Family: fam, ClientID: "app", Subject: "alice", SessionID: "s1", Token: tk1, KeyID: "k1", ExpiresAt: t0.Add(time.Hour), At: t0, NotAfter: t0.Add(12 * time.Hour)}
}

func rotated(from, to rt.TokenID, gen uint64, at time.Time) rt.Rotated {
	return rt.Rotated{Family: fam, From: from, To: to, Generation: gen, KeyID: "k1", ExpiresAt: at.Add(time.Hour), At: at}
}

func present(tok rt.TokenID, gen uint64) rt.Presented {
	return rt.Presented{Family: fam, Token: tok, Generation: gen, KeyID: "k1"}
}

func TestFamilyRotate(t *testing.T) {
	t.Parallel()
	at := t0.Add(time.Minute)
	cases := []struct {
		name    string
		given   []rt.Event
		when    rt.RotateInput
		kind    rt.OutcomeKind
		succ    rt.TokenID
		err     error
		pending []rt.Event
	}{
		{
			name:    "the current token rotates to the next one",
			given:   []rt.Event{started()},
			when:    rt.RotateInput{Presented: present(tk1, 1), ClientID: "app", Next: tk2, KeyID: "k1", ExpiresAt: at.Add(time.Hour), Now: at},
			kind:    rt.OutcomeRotated,
			succ:    tk2,
			pending: []rt.Event{rotated(tk1, tk2, 2, at)},
		},
		{
			name:  "a spent token revokes the family as reuse",
			given: []rt.Event{started(), rotated(tk1, tk2, 2, t0)},
			when:  rt.RotateInput{Presented: present(tk1, 1), ClientID: "app", Next: tk3, KeyID: "k1", ExpiresAt: at.Add(time.Hour), Now: at, AccessLifetime: 10 * time.Minute},
			kind:  rt.OutcomeReuse,
			pending: []rt.Event{
				rt.ReuseDetected{Family: fam, Presented: tk1, Generation: 1, ClientID: "app", At: at},
				rt.Revoked{Family: fam, Reason: "reuse", SessionID: "s1", At: at, AccessUntil: at.Add(10 * time.Minute)},
			},
		},
		{
			name:  "a spent token retried within grace gets the same successor and records nothing",
			given: []rt.Event{started(), rotated(tk1, tk2, 2, t0)},
			when:  rt.RotateInput{Presented: present(tk1, 1), ClientID: "app", Next: tk3, KeyID: "k1", Now: t0.Add(5 * time.Second), Grace: 10 * time.Second},
			kind:  rt.OutcomeGraceReplay,
			succ:  tk2,
		},
		{
			name:  "a spent token retried after grace is reuse",
			given: []rt.Event{started(), rotated(tk1, tk2, 2, t0)},
			when:  rt.RotateInput{Presented: present(tk1, 1), ClientID: "app", Next: tk3, KeyID: "k1", Now: t0.Add(11 * time.Second), Grace: 10 * time.Second},
			kind:  rt.OutcomeReuse,
			pending: []rt.Event{
				rt.ReuseDetected{Family: fam, Presented: tk1, Generation: 1, ClientID: "app", At: t0.Add(11 * time.Second)},
				rt.Revoked{Family: fam, Reason: "reuse", SessionID: "s1", At: t0.Add(11 * time.Second), AccessUntil: t0.Add(11 * time.Second)},
			},
		},
		{
			name:  "grace does not apply once the successor was itself used",
			given: []rt.Event{started(), rotated(tk1, tk2, 2, t0), rotated(tk2, tk3, 3, t0.Add(time.Second))},
			when:  rt.RotateInput{Presented: present(tk1, 1), ClientID: "app", Next: rt.TokenID{4}, KeyID: "k1", Now: t0.Add(2 * time.Second), Grace: 10 * time.Second},
			kind:  rt.OutcomeReuse,
			pending: []rt.Event{
				rt.ReuseDetected{Family: fam, Presented: tk1, Generation: 1, ClientID: "app", At: t0.Add(2 * time.Second)},
				rt.Revoked{Family: fam, Reason: "reuse", SessionID: "s1", At: t0.Add(2 * time.Second), AccessUntil: t0.Add(2 * time.Second)},
			},
		},
		{
			name:  "another client's presentation is refused without touching the family",
			given: []rt.Event{started()},
			when:  rt.RotateInput{Presented: present(tk1, 1), ClientID: "thief", Next: tk2, KeyID: "k1", Now: at},
			err:   rt.ErrWrongClient,
		},
		{
			name:  "a revoked family refuses its current token",
			given: []rt.Event{started(), rt.Revoked{Family: fam, Reason: "revoked", At: t0}},
			when:  rt.RotateInput{Presented: present(tk1, 1), ClientID: "app", Next: tk2, KeyID: "k1", Now: at},
			err:   rt.ErrFamilyRevoked,
		},
		{
			name:  "an expired current token is refused",
			given: []rt.Event{started()},
			when:  rt.RotateInput{Presented: present(tk1, 1), ClientID: "app", Next: tk2, KeyID: "k1", Now: t0.Add(time.Hour)},
			err:   rt.ErrExpired,
		},
		{
			name:  "a token the family never issued is unknown",
			given: []rt.Event{started()},
			when:  rt.RotateInput{Presented: present(tk3, 1), ClientID: "app", Next: tk2, KeyID: "k1", Now: at},
			err:   rt.ErrUnknownToken,
		},
		{
			name: "a family with no events is unknown",
			when: rt.RotateInput{Presented: present(tk1, 1), ClientID: "app", Next: tk2, KeyID: "k1", Now: at},
			err:  rt.ErrUnknownFamily,
		},
		{
			name:  "a zero successor id is refused",
			given: []rt.Event{started()},
			when:  rt.RotateInput{Presented: present(tk1, 1), ClientID: "app", KeyID: "k1", ExpiresAt: at.Add(time.Hour), Now: at},
			err:   rt.ErrSuccessorNotNew,
		},
		{
			name:  "the current token as its own successor is refused",
			given: []rt.Event{started()},
			when:  rt.RotateInput{Presented: present(tk1, 1), ClientID: "app", Next: tk1, KeyID: "k1", ExpiresAt: at.Add(time.Hour), Now: at},
			err:   rt.ErrSuccessorNotNew,
		},
		{
			name:  "a spent token as the successor is refused",
			given: []rt.Event{started(), rotated(tk1, tk2, 2, t0)},
			when:  rt.RotateInput{Presented: present(tk2, 2), ClientID: "app", Next: tk1, KeyID: "k1", ExpiresAt: at.Add(time.Hour), Now: at},
			err:   rt.ErrSuccessorNotNew,
		},
		{
			name:  "a grace period over 30 s is refused",
			given: []rt.Event{started()},
			when:  rt.RotateInput{Presented: present(tk1, 1), ClientID: "app", Next: tk2, KeyID: "k1", Now: at, Grace: 31 * time.Second},
			err:   rt.ErrBadGrace,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := rt.Load(fam, tc.given)
			out, err := f.Rotate(tc.when)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if tc.err != nil {
				if len(f.Pending()) != 0 {
					t.Fatalf("a refusal recorded %v", f.Pending())
				}
				return
			}
			if out.Kind != tc.kind {
				t.Fatalf("kind = %v, want %v", out.Kind, tc.kind)
			}
			if out.Successor.Token != tc.succ {
				t.Fatalf("successor = %v, want %v", out.Successor.Token, tc.succ)
			}
			if !reflect.DeepEqual(f.Pending(), tc.pending) && !(len(f.Pending()) == 0 && len(tc.pending) == 0) {
				t.Fatalf("pending =\n%#v\nwant\n%#v", f.Pending(), tc.pending)
			}
		})
	}
}

func TestRevokeIsIdempotent(t *testing.T) {
	t.Parallel()
	f := rt.Load(fam, []rt.Event{started()})
	if !f.Revoke("revoked", t0, t0) {
		t.Fatal("first revoke recorded nothing")
	}
	if f.Revoke("revoked", t0, t0) {
		t.Fatal("second revoke recorded again")
	}
	if len(f.Pending()) != 1 {
		t.Fatalf("pending = %d events", len(f.Pending()))
	}
	if f.Active(present(tk1, 1), t0) {
		t.Fatal("a revoked family's token is active")
	}
}

func TestEventsRoundTripThroughDecode(t *testing.T) {
	t.Parallel()
	for _, e := range []rt.Event{started(), rotated(tk1, tk2, 2, t0), rt.ReuseDetected{Family: fam, Presented: tk1, Generation: 1, At: t0}, rt.Revoked{Family: fam, Reason: "reuse", At: t0, AccessUntil: t0}} {
		b, err := jsonMarshal(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := rt.Decode(e.EventType(), b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("round trip of %s:\n%#v\n%#v", e.EventType(), got, e)
		}
	}
}

func TestCommittedIsIndependentOfTheOriginal(t *testing.T) {
	t.Parallel()
	f := rt.Load(fam, []rt.Event{started()})
	if _, err := f.Rotate(rt.RotateInput{Presented: present(tk1, 1), ClientID: "app", Next: tk2, KeyID: "k1", ExpiresAt: t0.Add(time.Hour), Now: t0}); err != nil {
		t.Fatal(err)
	}
	c := f.Committed()
	if c.Version() != 2 || len(c.Pending()) != 0 {
		t.Fatalf("committed version %d pending %d", c.Version(), len(c.Pending()))
	}
	if _, err := c.Rotate(rt.RotateInput{Presented: present(tk2, 2), ClientID: "app", Next: tk3, KeyID: "k1", ExpiresAt: t0.Add(time.Hour), Now: t0}); err != nil {
		t.Fatal(err)
	}
	if cur, _ := f.Current(); cur != tk2 || f.Version() != 1 {
		t.Fatal("deciding on the copy changed the original")
	}
}

func TestCloneKeepsEverySpentTokenAcrossManyRotations(t *testing.T) {
	t.Parallel()
	f := rt.Load(fam, []rt.Event{started()})
	ids := []rt.TokenID{tk1}
	for i := 2; i < 200; i++ {
		next := rt.TokenID{byte(i), byte(i >> 8), 0xEE}
		if _, err := f.Rotate(rt.RotateInput{Presented: present(ids[len(ids)-1], uint64(i-1)), ClientID: "app", Next: next, KeyID: "k1", ExpiresAt: t0.Add(time.Hour), Now: t0}); err != nil {
			t.Fatalf("rotation %d: %v", i, err)
		}
		ids = append(ids, next)
		f = f.Committed()
	}
	for gen, id := range ids[:len(ids)-1] {
		g := f.Clone()
		out, err := g.Rotate(rt.RotateInput{Presented: present(id, uint64(gen+1)), ClientID: "app", Next: rt.TokenID{0xFF}, KeyID: "k1", Now: t0})
		if err != nil || out.Kind != rt.OutcomeReuse {
			t.Fatalf("spent token of generation %d: %v %v", gen+1, out.Kind, err)
		}
	}
}
