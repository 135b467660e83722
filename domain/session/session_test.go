package session_test

import (
	"errors"
	"testing"
	"time"

	"github.com/authledger/authledger/domain/session"
)

var t0 = time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)

func started() session.Started {
	return session.Started{ID: "s1", Subject: "alice", ClientID: "login", ACR: "aal1", AuthTime: t0, ExpiresAt: t0.Add(12 * time.Hour), At: t0}
}

func TestElevate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		given []session.Event
		now   time.Time
		err   error
	}{
		{"a live session is elevated", []session.Event{started()}, t0.Add(time.Hour), nil},
		{"an ended session is not", []session.Event{started(), session.Ended{ID: "s1", At: t0}}, t0.Add(time.Hour), session.ErrEnded},
		{"a session past its absolute expiry is not", []session.Event{started()}, t0.Add(12 * time.Hour), session.ErrExpired},
		{"an unknown session is not found", nil, t0, session.ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := session.Load("s1", tc.given)
			err := s.Elevate("aal2", []string{"webauthn"}, "login", tc.now)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err == nil {
				if s.Info().ACR != "aal2" || len(s.Pending()) != 1 || s.Pending()[0].EventType() != session.TypeElevated {
					t.Fatalf("after elevate: %+v %v", s.Info(), s.Pending())
				}
			} else if len(s.Pending()) != 0 {
				t.Fatal("a refused elevate recorded events")
			}
		})
	}
}

func TestEndIsIdempotent(t *testing.T) {
	t.Parallel()
	s := session.Load("s1", []session.Event{started()})
	if ok, err := s.End("logout", "alice", t0, t0); !ok || err != nil {
		t.Fatalf("first end: %v %v", ok, err)
	}
	if ok, err := s.End("logout", "alice", t0, t0); ok || err != nil {
		t.Fatalf("second end: %v %v", ok, err)
	}
	if len(s.Pending()) != 1 {
		t.Fatalf("pending %d", len(s.Pending()))
	}
}

func TestCheckExpiry(t *testing.T) {
	t.Parallel()
	idle, abs := 30*time.Minute, 12*time.Hour
	cases := []struct {
		name      string
		lastSeen  time.Time
		now       time.Time
		wantError bool
	}{
		{"a session used a minute ago is live", t0.Add(time.Hour), t0.Add(time.Hour + time.Minute), false},
		{"a session idle for 30 minutes has expired", t0.Add(time.Hour), t0.Add(time.Hour + 30*time.Minute), true},
		{"a busy session expires at 12 hours", t0.Add(12*time.Hour - time.Minute), t0.Add(12 * time.Hour), true},
	}
	for _, tc := range cases {
		err := session.CheckExpiry(t0, tc.lastSeen, tc.now, idle, abs)
		if (err != nil) != tc.wantError {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
}

func TestStartRefusesMissingFields(t *testing.T) {
	t.Parallel()
	e := started()
	e.Subject = ""
	if err := session.Load("s1", nil).Start(e); !errors.Is(err, session.ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
}

// The session codec is lenient: a stream may carry events a newer version
// added, and readers skip them.
func TestDecodeSkipsUnknownTypes(t *testing.T) {
	e, err := session.Decode("session.renamed.v9", []byte(`{}`))
	if e != nil || err != nil {
		t.Fatalf("got %v, %v; want nil, nil", e, err)
	}
	if _, err := session.Decode(session.TypeEnded, []byte(`{"id":1}`)); err == nil {
		t.Fatal("bad data of a known type decoded")
	}
}

func TestStartRefusesSubjectsInTheClientIDNamespace(t *testing.T) {
	t.Parallel()
	for _, sub := range []string{"svc-0123abcd", "SVC-x", "Svc-"} {
		e := started()
		e.Subject = sub
		if err := session.Load("s1", nil).Start(e); !errors.Is(err, session.ErrReservedSubject) {
			t.Errorf("subject %q: err = %v, want ErrReservedSubject", sub, err)
		}
	}
	for _, sub := range []string{"alice", "svc", "service-alice", "x-svc-1"} {
		e := started()
		e.Subject = sub
		if err := session.Load("s1", nil).Start(e); err != nil {
			t.Errorf("subject %q: err = %v, want nil", sub, err)
		}
	}
}

func TestRebuild(t *testing.T) {
	t.Parallel()
	withHash := func(h string) session.Started { s := started(); s.TokenHash = h; return s }
	seen := t0.Add(time.Minute)
	cases := []struct {
		name  string
		given []session.Event
		hash  string
		now   time.Time
		err   error
	}{
		{"a live session is rebuilt under its token's hash", []session.Event{withHash("aa")}, "aa", t0.Add(time.Hour), nil},
		{"another hash finds nothing", []session.Event{withHash("aa")}, "bb", t0.Add(time.Hour), session.ErrNotFound},
		{"a session started without a recorded hash cannot be rebuilt", []session.Event{started()}, "", t0.Add(time.Hour), session.ErrNotFound},
		{"a step-up's new hash replaces the old one", []session.Event{withHash("aa"), session.Elevated{ID: "s1", ACR: "aal2", TokenHash: "cc"}}, "cc", t0.Add(time.Hour), nil},
		{"the token before a step-up no longer works", []session.Event{withHash("aa"), session.Elevated{ID: "s1", ACR: "aal2", TokenHash: "cc"}}, "aa", t0.Add(time.Hour), session.ErrNotFound},
		{"a step-up that recorded no hash leaves nothing to rebuild", []session.Event{withHash("aa"), session.Elevated{ID: "s1", ACR: "aal2"}}, "aa", t0.Add(time.Hour), session.ErrNotFound},
		{"an ended session stays ended", []session.Event{withHash("aa"), session.Ended{ID: "s1", At: t0}}, "aa", t0.Add(time.Hour), session.ErrEnded},
		{"a session past its absolute expiry stays expired", []session.Event{withHash("aa")}, "aa", t0.Add(12 * time.Hour), session.ErrExpired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec, err := session.Load("s1", tc.given).Rebuild(tc.hash, seen, tc.now)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err == nil && (rec.ID != "s1" || rec.Subject != "alice" || rec.TokenHash != tc.hash || !rec.LastSeen.Equal(seen) || !rec.CreatedAt.Equal(t0)) {
				t.Fatalf("record %+v", rec)
			}
		})
	}
}
