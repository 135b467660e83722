package families_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/postgres"
	"github.com/authledger/authledger/eventstore/sqlite"
	"github.com/authledger/authledger/internal/pgtest"
	"github.com/authledger/authledger/projections"
	"github.com/authledger/authledger/readmodels/families"
)

func open(t *testing.T, dialect string) (eventstore.Store, *projections.DB) {
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

func appendEvents(t *testing.T, store eventstore.Store, id refreshtoken.FamilyID, es ...refreshtoken.Event) uint64 {
	t.Helper()
	var evs []eventstore.Event
	for _, e := range es {
		b, _ := json.Marshal(e)
		evs = append(evs, eventstore.Event{Type: e.EventType(), Data: b})
	}
	recs, err := store.Append(context.Background(), eventstore.StreamAppend{Stream: id.Stream(), Expected: eventstore.Any(), Events: evs})
	if err != nil {
		t.Fatal(err)
	}
	return recs[len(recs)-1].Position
}

func TestFamiliesReadModel(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			store, db := open(t, dialect)
			r, err := projections.New(projections.Config{Store: store, DB: db})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Register(families.Projection{}); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { defer close(done); _ = r.Start(ctx) }()
			defer func() { cancel(); <-done }()

			t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			a, b := refreshtoken.FamilyID{1}, refreshtoken.FamilyID{2}
			appendEvents(t, store, a, refreshtoken.Started{Family: a, ClientID: "app", Subject: "alice", SessionID: "s1", Token: refreshtoken.TokenID{1}, KeyID: "v1", ExpiresAt: t0.Add(time.Hour), At: t0},
				refreshtoken.Rotated{Family: a, From: refreshtoken.TokenID{1}, To: refreshtoken.TokenID{2}, Generation: 2, KeyID: "v1", ExpiresAt: t0.Add(2 * time.Hour), At: t0.Add(time.Minute)})
			appendEvents(t, store, b, refreshtoken.Started{Family: b, ClientID: "app", Subject: "alice", Token: refreshtoken.TokenID{3}, KeyID: "v1", ExpiresAt: t0.Add(time.Hour), At: t0.Add(time.Second)})
			last := appendEvents(t, store, b, refreshtoken.ReuseDetected{Family: b, At: t0.Add(time.Hour)}, refreshtoken.Revoked{Family: b, Reason: "reuse", At: t0.Add(time.Hour)})
			wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
			defer wcancel()
			if err := r.WaitFor(wctx, families.Name, last); err != nil {
				t.Fatal(err)
			}
			fa, err := families.Get(ctx, db.DB, a.String())
			if err != nil || fa.Generation != 2 || fa.State != "active" || fa.ClientID != "app" || fa.SessionID != "s1" || !fa.ExpiresAt.Equal(t0.Add(2*time.Hour)) {
				t.Fatalf("family a: %+v %v", fa, err)
			}
			fb, err := families.Get(ctx, db.DB, b.String())
			if err != nil || fb.State != "revoked" || fb.Reason != "reuse" || fb.Generation != 1 {
				t.Fatalf("family b: %+v %v", fb, err)
			}
			list, err := families.BySubject(ctx, db.DB, "alice")
			if err != nil || len(list) != 2 || list[0].ID != b.String() {
				t.Fatalf("alice's families: %+v %v", list, err)
			}
			if _, err := families.Get(ctx, db.DB, refreshtoken.FamilyID{9}.String()); err != families.ErrNotFound {
				t.Fatalf("unknown family: %v", err)
			}
		})
	}
}
