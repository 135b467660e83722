package services_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/projections"
	"github.com/authledger/authledger/readmodels/services"
)

func appendClient(t *testing.T, store eventstore.Store, id client.ID, expected eventstore.ExpectedVersion, es ...client.Event) uint64 {
	t.Helper()
	var evs []eventstore.Event
	for _, e := range es {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, eventstore.Event{Type: e.EventType(), Data: b})
	}
	recs, err := store.Append(context.Background(), eventstore.StreamAppend{Stream: client.Stream(id), Expected: expected, Events: evs})
	if err != nil {
		t.Fatal(err)
	}
	return recs[len(recs)-1].Position
}

func TestRegistryFollowsTheLedger(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := memstore.New(nil)
	reg := services.New()
	done := make(chan error, 1)
	go func() { done <- reg.Follow(ctx, store) }()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	pos := appendClient(t, store, "svc-a", eventstore.NoStream(),
		client.Registered{Client: "svc-a", Name: "a", Scopes: []string{"read"}, At: now},
		client.SecretAdded{SecretID: "s1", Hash: client.HashSecretV1("pw"), At: now})
	// An unrelated stream moves the position too.
	if _, err := store.Append(ctx, eventstore.StreamAppend{Stream: "token-x", Expected: eventstore.Any(),
		Events: []eventstore.Event{{Type: "token.issued.v1", Data: json.RawMessage(`{}`)}}}); err != nil {
		t.Fatal(err)
	}
	wait(t, reg, pos+1)
	v, ok, _ := reg.Client(ctx, "svc-a")
	if !ok || !v.SecretMatches("pw", client.Pepper{}, now) || v.Version != 2 {
		t.Fatalf("view %+v ok=%v", v, ok)
	}
	held := v // a reader's view must not change under it

	pos = appendClient(t, store, "svc-a", eventstore.Exact(2), client.Disabled{At: now})
	wait(t, reg, pos)
	v, _, _ = reg.Client(ctx, "svc-a")
	if !v.Disabled || held.Disabled {
		t.Fatalf("disabled: new view %v, held view %v", v.Disabled, held.Disabled)
	}
	if _, ok, _ := reg.Client(ctx, "svc-b"); ok {
		t.Fatal("an unknown client was found")
	}
	list, _ := reg.List(ctx)
	if len(list) != 1 {
		t.Fatalf("list has %d", len(list))
	}
	cancel()
	<-done
}

func TestRegistryIgnoresARecordItHasAlreadyFolded(t *testing.T) {
	t.Parallel()
	store := memstore.New(nil)
	now := time.Now()
	appendClient(t, store, "svc-a", eventstore.NoStream(),
		client.Registered{Client: "svc-a", Name: "a", At: now},
		client.SecretAdded{SecretID: "s1", Hash: client.HashSecretV1("pw"), At: now})
	recs, _ := store.ReadAll(context.Background(), 0, 10)
	reg := services.New()
	for _, r := range append(recs, recs...) {
		if err := reg.Apply(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	v, _, _ := reg.Client(context.Background(), "svc-a")
	if len(v.Secrets) != 1 || v.Version != 2 {
		t.Fatalf("re-applied records changed the view: %+v", v)
	}
}

func TestCatchUpReadsEveryStoredRecord(t *testing.T) {
	t.Parallel()
	store := memstore.New(nil)
	now := time.Now()
	for _, id := range []client.ID{"svc-a", "svc-b", "svc-c"} {
		appendClient(t, store, id, eventstore.NoStream(), client.Registered{Client: id, Name: string(id), At: now})
	}
	reg := services.New()
	if err := reg.CatchUp(context.Background(), store); err != nil {
		t.Fatal(err)
	}
	if l, _ := reg.List(context.Background()); len(l) != 3 || l[0].ID != "svc-a" {
		t.Fatalf("list %+v", l)
	}
}

func wait(t *testing.T, reg *services.Registry, pos uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := reg.WaitFor(ctx, pos); err != nil {
		t.Fatalf("registry stuck at %d, want %d", reg.Position(), pos)
	}
}

// The registry runs unchanged on the projection runner once it is wired.
var _ projections.MemoryProjection = (*services.Registry)(nil)
