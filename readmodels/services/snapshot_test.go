package services_test

import (
	"context"
	"testing"
	"time"

	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/readmodels/services"
)

// A registry restored from its snapshot authenticates the same secrets
// (their hashes are in the snapshot, though a view's JSON leaves them out)
// and folds what came after the snapshot.
func TestASnapshotRestoresTheRegistry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := memstore.New(nil)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	appendClient(t, store, "svc-a", eventstore.NoStream(),
		client.Registered{Client: "svc-a", Name: "a", Scopes: []string{"read"}, At: now},
		client.SecretAdded{SecretID: "s1", Hash: client.HashSecretV1("pw"), At: now})
	reg := services.New()
	if err := reg.CatchUp(ctx, store); err != nil {
		t.Fatal(err)
	}
	pos, data, err := reg.Snapshot()
	if err != nil || pos != 2 {
		t.Fatalf("Snapshot = %d, %v", pos, err)
	}
	appendClient(t, store, "svc-a", eventstore.Exact(2), client.Disabled{At: now})

	back := services.New()
	if err := back.Restore(pos, data); err != nil {
		t.Fatal(err)
	}
	if back.ResumeAt() != 2 {
		t.Fatalf("ResumeAt = %d", back.ResumeAt())
	}
	v, ok, _ := back.Client(ctx, "svc-a")
	if !ok || !v.SecretMatches("pw", client.Pepper{}, now) || v.Version != 2 || v.Disabled {
		t.Fatalf("restored view %+v ok=%v", v, ok)
	}
	if err := back.CatchUp(ctx, store); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := back.Client(ctx, "svc-a"); !v.Disabled || v.Version != 3 {
		t.Fatalf("after catching up from the snapshot: %+v", v)
	}
}
