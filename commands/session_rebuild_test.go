package commands_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/projections"
	"github.com/authledger/authledger/readmodels/sessions"
	"github.com/authledger/authledger/sessionstore"
)

// ledgerIndex is the real session-token projection on an SQLite read-model
// database, folded from the fixture's ledger by a real runner.
type ledgerIndex struct {
	sessions.TokenIndex
	store  eventstore.Store
	runner *projections.Runner
}

func newLedgerIndex(t *testing.T, store eventstore.Store) *ledgerIndex {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	db, err := projections.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "rm.db"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := projections.New(projections.Config{Store: store, DB: db})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Register(sessions.Tokens{}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done; _ = db.Close() })
	return &ledgerIndex{TokenIndex: sessions.TokenIndex{DB: db.DB}, store: store, runner: r}
}

// caughtUp waits until the index has folded the whole ledger.
func (x *ledgerIndex) caughtUp(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := x.store.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.runner.WaitFor(ctx, sessions.TokensName, h.Position); err != nil {
		t.Fatal(err)
	}
}

// The session store is a cache of the ledger: a session it lost (a Redis
// restart without persistence) is rebuilt from the ledger on the next use
// of its cookie, and written back.
func TestASessionTheStoreLostIsRebuiltFromTheLedger(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	live := sessionstore.NewMemory(nil)
	var idx *ledgerIndex
	f := newTokenFixture(t, nil, withSessions(live), func(c *fixtureCfg) {
		idx = newLedgerIndex(t, c.deps.Store)
		c.deps.SessionIndex = idx
	})
	forget := func(id string) {
		t.Helper()
		if err := live.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := live.Get(ctx, id); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("the store still holds %s: %v", id, err)
		}
	}

	t.Run("a live session comes back under the cookie the client holds", func(t *testing.T) {
		s := f.start(t, "login", "alice")
		idx.caughtUp(t)
		forget(s.SessionID)
		pair, err := f.tok.AccessToken.Handle(ctx, s.SessionToken, meta)
		if err != nil {
			t.Fatalf("the session was lost with the store: %v", err)
		}
		c, err := f.verifier.Verify(ctx, pair.AccessToken)
		if err != nil || c.SessionID != s.SessionID || c.Subject != "alice" || c.ACR != "aal1" {
			t.Fatalf("claims %+v, %v", c, err)
		}
		if rec, err := live.Get(ctx, s.SessionID); err != nil || rec.Subject != "alice" {
			t.Fatalf("the rebuilt session was not written back: %+v %v", rec, err)
		}
	})
	t.Run("a wrong cookie finds nothing in the ledger either", func(t *testing.T) {
		s := f.start(t, "login", "bob")
		idx.caughtUp(t)
		forget(s.SessionID)
		if _, err := f.tok.AccessToken.Handle(ctx, s.SessionToken+"x", meta); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	})
	t.Run("an ended session stays ended", func(t *testing.T) {
		s := f.start(t, "login", "carol")
		if err := f.tok.EndSession.Handle(ctx, commands.EndSession{SessionID: s.SessionID, Subject: "carol"}, meta); err != nil {
			t.Fatal(err)
		}
		idx.caughtUp(t)
		forget(s.SessionID)
		if _, err := f.tok.AccessToken.Handle(ctx, s.SessionToken, meta); err == nil {
			t.Fatal("an ended session was rebuilt")
		}
	})
	t.Run("after a step-up only the new cookie comes back", func(t *testing.T) {
		s := f.start(t, "login", "dave")
		e, err := f.tok.Elevate.Handle(ctx, commands.ElevateSession{SessionID: s.SessionID, ClientID: "login", ACR: "aal2", AMR: []string{"webauthn", "pin"}}, meta)
		if err != nil {
			t.Fatal(err)
		}
		idx.caughtUp(t)
		forget(s.SessionID)
		if _, err := f.tok.AccessToken.Handle(ctx, s.SessionToken, meta); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("the cookie before the step-up: err = %v, want ErrNotFound", err)
		}
		pair, err := f.tok.AccessToken.Handle(ctx, e.SessionToken, meta)
		if err != nil {
			t.Fatalf("the stepped-up session was lost: %v", err)
		}
		if c, err := f.verifier.Verify(ctx, pair.AccessToken); err != nil || c.ACR != "aal2" {
			t.Fatalf("claims %+v, %v", c, err)
		}
	})
	t.Run("a session idle past the timeout since its last use in the ledger does not come back", func(t *testing.T) {
		s := f.start(t, "login", "erin")
		f.clock.Add(20 * time.Minute)
		if _, err := f.tok.AccessToken.Handle(ctx, s.SessionToken, meta); err != nil {
			t.Fatal(err)
		}
		f.clock.Add(25 * time.Minute) // 45 min after start, 25 after its last use
		idx.caughtUp(t)
		forget(s.SessionID)
		if _, err := f.tok.AccessToken.Handle(ctx, s.SessionToken, meta); err != nil {
			t.Fatalf("a session used 25 minutes ago was lost: %v", err)
		}
		f.clock.Add(31 * time.Minute)
		idx.caughtUp(t)
		forget(s.SessionID)
		if _, err := f.tok.AccessToken.Handle(ctx, s.SessionToken, meta); !errors.Is(err, session.ErrExpired) {
			t.Fatalf("a session idle 31 minutes: err = %v, want ErrExpired", err)
		}
	})
}
