package commands_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authledger/authledger/client/verifier"
	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/queries"
	"github.com/authledger/authledger/sessionstore"
	"github.com/authledger/authledger/sessionstore/sessionstoretest"
)

func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name  string
		steps []time.Duration // clock moves, each followed by a use
		err   error
	}{
		{"a session used every 29 minutes lives on", []time.Duration{29 * time.Minute, 29 * time.Minute, 29 * time.Minute}, nil},
		{"a session idle for 30 minutes has expired", []time.Duration{30 * time.Minute}, session.ErrNotFound},
		{"a busy session still ends at 12 hours", repeat(25, 29*time.Minute), session.ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newTokenFixture(t, nil)
			s := f.start(t, "login", "alice")
			var err error
			for _, d := range tc.steps {
				f.clock.Add(d)
				if _, err = f.tok.AccessToken.Handle(ctx, s.SessionToken, meta); err != nil {
					break
				}
			}
			if tc.err == nil && err != nil {
				t.Fatalf("err = %v", err)
			}
			// The in-process store forgets at its ttl, Redis at its own;
			// either way the session is gone, expired or not found.
			if tc.err != nil && !errors.Is(err, session.ErrExpired) && !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("err = %v, want expired", err)
			}
			if tc.err != nil {
				// Once expired it is gone, not merely refused once.
				if _, err := f.tok.AccessToken.Handle(ctx, s.SessionToken, meta); !errors.Is(err, tc.err) {
					t.Fatalf("second use: err = %v", err)
				}
			}
		})
		// A store whose clock never moves never forgets: here the
		// service's own expiry rule must refuse the session and delete it.
		t.Run(tc.name+", even where the store keeps the record", func(t *testing.T) {
			t.Parallel()
			frozen := time.Now()
			f := newTokenFixture(t, nil, withSessions(sessionstore.NewMemory(func() time.Time { return frozen })))
			s := f.start(t, "login", "alice")
			var err error
			for _, d := range tc.steps {
				f.clock.Add(d)
				if _, err = f.tok.AccessToken.Handle(ctx, s.SessionToken, meta); err != nil {
					break
				}
			}
			if tc.err == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if !errors.Is(err, session.ErrExpired) {
				t.Fatalf("err = %v, want session.ErrExpired from the expiry rule", err)
			}
			if _, err := f.tok.AccessToken.Handle(ctx, s.SessionToken, meta); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("second use: err = %v, want the expired session deleted", err)
			}
		})
	}
}

func repeat(n int, d time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func TestSessionAccessTokenCarriesTheSession(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newTokenFixture(t, nil)
	s := f.start(t, "login", "alice")
	pair, err := f.tok.AccessToken.Handle(ctx, s.SessionToken, meta)
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.verifier.Verify(ctx, pair.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if c.SessionID != s.SessionID || c.Subject != "alice" || c.ACR != "aal1" || pair.ExpiresIn != 600 {
		t.Fatalf("claims %+v expires_in %d", c, pair.ExpiresIn)
	}
	if !contains(c.Audience, "api") || !contains(c.Audience, testIssuer) {
		t.Fatalf("aud %v lacks api or the issuer", c.Audience)
	}
	if _, err := f.tok.AccessToken.Handle(ctx, s.SessionToken+"x", meta); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("a wrong cookie: %v", err)
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func TestElevateRotatesTheSessionToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newTokenFixture(t, nil)
	s := f.start(t, "login", "alice")
	if _, err := f.tok.Elevate.Handle(ctx, commands.ElevateSession{SessionID: s.SessionID, ClientID: "other-login", ACR: "aal2"}, meta); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("another login service elevated the session: %v", err)
	}
	e, err := f.tok.Elevate.Handle(ctx, commands.ElevateSession{SessionID: s.SessionID, ClientID: "login", ACR: "aal2", AMR: []string{"webauthn", "pin"}}, meta)
	if err != nil {
		t.Fatal(err)
	}
	if e.SessionToken == s.SessionToken || e.ACR != "aal2" {
		t.Fatalf("elevate answered %+v", e)
	}
	if _, err := f.tok.AccessToken.Handle(ctx, s.SessionToken, meta); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("the pre-step-up cookie still works: %v", err)
	}
	pair, err := f.tok.AccessToken.Handle(ctx, e.SessionToken, meta)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := f.verifier.Verify(ctx, pair.AccessToken); c == nil || c.ACR != "aal2" {
		t.Fatalf("access token after step-up: %+v", c)
	}
	if n := countTypes(t, f.store, session.Stream(s.SessionID))[session.TypeElevated]; n != 1 {
		t.Fatalf("%d elevation events", n)
	}
}

func TestListingShowsOnlyTheCallersSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newTokenFixture(t, nil)
	a1 := f.start(t, "login", "alice")
	a2 := f.start(t, "login", "alice")
	f.start(t, "login", "bob")
	got, err := f.tok.Sessions.List(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, r := range got {
		ids[r.ID] = true
		if r.Subject != "alice" {
			t.Fatalf("alice sees %s's session", r.Subject)
		}
	}
	if len(got) != 2 || !ids[a1.SessionID] || !ids[a2.SessionID] {
		t.Fatalf("alice's list %+v", got)
	}
}

func TestEndingASessionKillsItsTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newTokenFixture(t, nil)
	s := f.start(t, "login", "alice")
	cookieAT, err := f.tok.AccessToken.Handle(ctx, s.SessionToken, meta)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.tok.EndSession.Handle(ctx, commands.EndSession{SessionID: s.SessionID, Subject: "bob"}, meta); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("bob ended alice's session: %v", err)
	}
	if err := f.tok.EndSession.Handle(ctx, commands.EndSession{SessionID: s.SessionID, Subject: "alice"}, meta); err != nil {
		t.Fatal(err)
	}
	if err := f.tok.EndSession.Handle(ctx, commands.EndSession{SessionID: s.SessionID, Subject: "alice"}, meta); err != nil {
		t.Fatalf("ending twice: %v", err)
	}
	if _, err := f.tok.AccessToken.Handle(ctx, s.SessionToken, meta); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("cookie after end: %v", err)
	}
	if _, err := f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "login"}, meta); !isInvalidGrant(err) {
		t.Fatalf("refresh after end: %v", err)
	}
	if got := countTypes(t, f.store, s.Family.Stream()); got[refreshtoken.TypeRevoked] != 1 {
		t.Fatalf("family events %v", got)
	}
	f.catchUp(t)
	for name, at := range map[string]string{"start": s.AccessToken, "cookie": cookieAT.AccessToken} {
		if _, err := f.verifier.Verify(ctx, at); !errors.Is(err, verifier.ErrRevoked) {
			t.Errorf("%s access token after end: %v", name, err)
		}
		if in, _ := f.tok.Introspector.Introspect(ctx, at, "", queries.Caller{ClientID: "login"}); in.Active {
			t.Errorf("%s access token introspects active", name)
		}
	}
}

func TestRedisDownFailsSessionsButNotRefresh(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	up := sessionstore.NewMemory(nil)
	down := sessionstoretest.Down(t)

	healthy := newTokenFixture(t, nil, withSessions(up))
	s := healthy.start(t, "login", "alice")
	// A second instance on the same ledger and sealing key, whose Redis is gone.
	f := newTokenFixture(t, healthy.store, withSessions(down), withCodec(healthy.codec))
	before, _ := f.store.Head(ctx)
	if _, err := f.tok.StartSession.Handle(ctx, commands.StartSession{ClientID: "login", Subject: "alice", ACR: "aal1"}, meta); !errors.Is(err, session.ErrUnavailable) {
		t.Fatalf("start with Redis down: %v", err)
	}
	if after, _ := f.store.Head(ctx); after.Position != before.Position {
		t.Fatal("a failed session start appended to the ledger")
	}
	if _, err := f.tok.AccessToken.Handle(ctx, s.SessionToken, meta); !errors.Is(err, session.ErrUnavailable) {
		t.Fatalf("cookie exchange with Redis down: %v", err)
	}
	if _, err := f.tok.Sessions.List(ctx, "alice"); !errors.Is(err, session.ErrUnavailable) {
		t.Fatalf("list with Redis down: %v", err)
	}
	if err := f.tok.EndSession.Handle(ctx, commands.EndSession{SessionID: s.SessionID, Subject: "alice"}, meta); !errors.Is(err, session.ErrUnavailable) {
		t.Fatalf("end with Redis down: %v", err)
	}
	if _, err := f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "login"}, meta); err != nil {
		t.Fatalf("refresh with Redis down: %v", err)
	}
	if _, err := f.verifier.Verify(ctx, s.AccessToken); err != nil {
		t.Fatalf("verification with Redis down: %v", err)
	}
}
