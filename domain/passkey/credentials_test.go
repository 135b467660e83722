package passkey_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authledger/authledger/domain/passkey"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func registered(id string, count uint32) passkey.Registered {
	return passkey.Registered{Subject: "alice", Credential: id, PublicKey: []byte{1, 2, 3}, SignCount: count, Name: "laptop", Via: "enrolment", At: t0}
}

func types(es []passkey.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.EventType()
	}
	return out
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		given   []passkey.Event
		cred    string
		count   uint32
		wantErr error
		want    []string
	}{
		{"a higher counter signs in", []passkey.Event{registered("c1", 5)}, "c1", 6, nil,
			[]string{passkey.TypeUsed, passkey.TypeSignInSucceeded}},
		{"a credential without a counter (0 and 0) signs in", []passkey.Event{registered("c1", 0)}, "c1", 0, nil,
			[]string{passkey.TypeUsed, passkey.TypeSignInSucceeded}},
		{"an equal counter is a clone warning", []passkey.Event{registered("c1", 5)}, "c1", 5, passkey.ErrCloneSuspected,
			[]string{passkey.TypeCloneWarning, passkey.TypeSignInFailed}},
		{"a lower counter is a clone warning", []passkey.Event{registered("c1", 5), passkey.Used{Credential: "c1", SignCount: 9}}, "c1", 7, passkey.ErrCloneSuspected,
			[]string{passkey.TypeCloneWarning, passkey.TypeSignInFailed}},
		{"a counter that drops to 0 is a clone warning", []passkey.Event{registered("c1", 3)}, "c1", 0, passkey.ErrCloneSuspected,
			[]string{passkey.TypeCloneWarning, passkey.TypeSignInFailed}},
		{"a removed credential cannot sign in", []passkey.Event{registered("c1", 0), passkey.Removed{Credential: "c1"}}, "c1", 1, passkey.ErrUnknownCredential,
			[]string{passkey.TypeSignInFailed}},
		{"another subject's credential is unknown here", nil, "c-of-bob", 1, passkey.ErrUnknownCredential,
			[]string{passkey.TypeSignInFailed}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := passkey.Load("alice", tc.given)
			err := c.SignIn(tc.cred, tc.count, "sign_in", "uv", []string{"hwk", "user"}, t0)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if got := types(c.Pending()); !slices.Equal(got, tc.want) {
				t.Fatalf("pending = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSignInKeepsTheNewCounter(t *testing.T) {
	t.Parallel()
	c := passkey.Load("alice", []passkey.Event{registered("c1", 1)})
	if err := c.SignIn("c1", 2, "sign_in", "uv", nil, t0); err != nil {
		t.Fatal(err)
	}
	if err := c.SignIn("c1", 2, "sign_in", "uv", nil, t0); !errors.Is(err, passkey.ErrCloneSuspected) {
		t.Fatalf("replaying counter 2 after it was used: %v", err)
	}
}

func TestRegister(t *testing.T) {
	t.Parallel()
	full := make([]passkey.Event, 0, passkey.MaxCredentials)
	for i := range passkey.MaxCredentials {
		full = append(full, registered(string(rune('a'+i)), 0))
	}
	cases := []struct {
		name    string
		given   []passkey.Event
		reg     passkey.Registered
		wantErr error
	}{
		{"a first credential registers", nil, registered("c1", 0), nil},
		{"the same id twice is refused", []passkey.Event{registered("c1", 0)}, registered("c1", 0), passkey.ErrDuplicate},
		{"an id removed before registers again", []passkey.Event{registered("c1", 0), passkey.Removed{Credential: "c1"}}, registered("c1", 0), nil},
		{"no public key is refused", nil, passkey.Registered{Credential: "c1", Name: "x", Via: "session", At: t0}, passkey.ErrInvalid},
		{"an over-long name is refused", nil, func() passkey.Registered { r := registered("c1", 0); r.Name = strings.Repeat("n", 65); return r }(), passkey.ErrInvalid},
		{"a twenty-first passkey is refused", full, registered("zz", 0), passkey.ErrTooMany},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := passkey.Load("alice", tc.given)
			if err := c.Register(tc.reg); !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestRenameAndRemove(t *testing.T) {
	t.Parallel()
	c := passkey.Load("alice", []passkey.Event{registered("c1", 0)})
	if err := c.Rename("c1", "phone", t0); err != nil {
		t.Fatal(err)
	}
	if cr, _ := c.Get("c1"); cr.Name != "phone" {
		t.Fatalf("name = %q", cr.Name)
	}
	if err := c.Remove("c1", t0); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove("c1", t0); !errors.Is(err, passkey.ErrUnknownCredential) {
		t.Fatalf("second remove: %v", err)
	}
	if err := c.Rename("c1", "x", t0); !errors.Is(err, passkey.ErrUnknownCredential) {
		t.Fatalf("rename removed: %v", err)
	}
	if len(c.List()) != 0 {
		t.Fatal("a removed credential is still listed")
	}
}

func TestEnrolment(t *testing.T) {
	t.Parallel()
	hash := strings.Repeat("ab", 32)
	issued := func() []passkey.Event {
		e := passkey.LoadEnrolment("e1", nil)
		if err := e.Issue("alice", hash, t0); err != nil {
			t.Fatal(err)
		}
		return e.Pending()
	}
	cases := []struct {
		name    string
		given   []passkey.Event
		secret  string
		at      time.Time
		wantErr error
	}{
		{"a fresh link redeems", issued(), hash, t0.Add(14 * time.Minute), nil},
		{"a wrong secret is refused", issued(), strings.Repeat("cd", 32), t0, passkey.ErrEnrolmentInvalid},
		{"an unknown link is refused the same way", nil, hash, t0, passkey.ErrEnrolmentInvalid},
		{"a link at 15 minutes is expired", issued(), hash, t0.Add(15 * time.Minute), passkey.ErrEnrolmentExpired},
		{"a redeemed link is refused", append(issued(), passkey.EnrolmentRedeemed{ID: "e1"}), hash, t0, passkey.ErrEnrolmentUsed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := passkey.LoadEnrolment("e1", tc.given)
			err := e.Redeem(tc.secret, "c1", tc.at)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && (len(e.Pending()) != 1 || e.Pending()[0].EventType() != passkey.TypeEnrolmentRedeemed) {
				t.Fatalf("pending = %v", types(e.Pending()))
			}
		})
	}
}
