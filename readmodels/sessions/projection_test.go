package sessions_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/postgres"
	"github.com/authledger/authledger/eventstore/sqlite"
	"github.com/authledger/authledger/internal/pgtest"
	"github.com/authledger/authledger/projections"
	"github.com/authledger/authledger/readmodels/sessions"
)

func openLedgerAndDB(t *testing.T, dialect string) (eventstore.Store, *projections.DB) {
	t.Helper()
	ctx := context.Background()
	var store eventstore.Store
	var rmURL string
	var err error
	if dialect == "sqlite" {
		dir := t.TempDir()
		store, err = sqlite.Open(ctx, filepath.Join(dir, "ledger.db"), sqlite.Options{})
		rmURL = "sqlite://" + filepath.Join(dir, "rm.db")
	} else {
		dsn := pgtest.NewDatabase(t)
		store, err = postgres.Open(ctx, dsn, postgres.Options{})
		rmURL = dsn
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	db, err := projections.Open(ctx, rmURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return store, db
}

func appendSession(t *testing.T, store eventstore.Store, id string, es ...session.Event) uint64 {
	t.Helper()
	var evs []eventstore.Event
	for _, e := range es {
		b, _ := json.Marshal(e)
		evs = append(evs, eventstore.Event{Type: e.EventType(), Data: b})
	}
	recs, err := store.Append(context.Background(), eventstore.StreamAppend{Stream: session.Stream(id), Expected: eventstore.Any(), Events: evs})
	if err != nil {
		t.Fatal(err)
	}
	return recs[len(recs)-1].Position
}

func TestActiveSessionsReadModel(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			store, db := openLedgerAndDB(t, dialect)
			r, err := projections.New(projections.Config{Store: store, DB: db})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Register(sessions.Active{}); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { defer close(done); _ = r.Start(ctx) }()
			defer func() { cancel(); <-done }()

			start := func(id, subject string) session.Started {
				return session.Started{ID: id, Subject: subject, ClientID: "login", ACR: "aal1", AuthTime: t0, ExpiresAt: t0.Add(12 * time.Hour), At: t0}
			}
			appendSession(t, store, "a1", start("a1", "alice"))
			appendSession(t, store, "a2", start("a2", "alice"), session.Elevated{ID: "a2", ACR: "aal2", AuthTime: t0.Add(time.Minute), At: t0.Add(time.Minute)})
			appendSession(t, store, "b1", start("b1", "bob"))
			last := appendSession(t, store, "a1", session.Ended{ID: "a1", Subject: "alice", Reason: "logout", At: t0.Add(time.Hour)})
			wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
			defer wcancel()
			if err := r.WaitFor(wctx, sessions.ActiveName, last); err != nil {
				t.Fatal(err)
			}
			now := t0.Add(2 * time.Hour)
			list, err := sessions.ActiveBySubject(ctx, db.DB, "alice", now)
			if err != nil || len(list) != 1 || list[0].ID != "a2" || list[0].ACR != "aal2" {
				t.Fatalf("alice's active sessions: %+v %v", list, err)
			}
			if _, err := sessions.ActiveByID(ctx, db.DB, "a1", now); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("an ended session is active: %v", err)
			}
			if _, err := sessions.ActiveByID(ctx, db.DB, "b1", t0.Add(12*time.Hour)); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("a session past its absolute expiry is active: %v", err)
			}
			if s, err := sessions.ActiveByID(ctx, db.DB, "b1", now); err != nil || s.Subject != "bob" {
				t.Fatalf("bob's session: %+v %v", s, err)
			}
		})
	}
}
