package jwks_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/authledger/authledger/client/verifier"
	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/projections"
	"github.com/authledger/authledger/readmodels/jwks"
	"github.com/authledger/authledger/secrets/local"
)

// The runner feeds the model as an in-process projection.
var _ projections.MemoryProjection = (*jwks.Model)(nil)

func TestModelFollowsTheLedger(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := memstore.New(nil)
	sp, err := local.Open(t.TempDir(), local.Options{MasterKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := commands.NewKeys(commands.KeysConfig{Store: store, Secrets: sp})
	m := jwks.New()
	if _, _, ok := m.JWKS(); ok {
		t.Fatal("an empty model claims to be ready")
	}
	done := make(chan error, 1)
	go func() { done <- m.Follow(ctx, store) }()

	first, err := keys.Tick(ctx, commands.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, m, func() bool { _, ok := m.ActiveKey(); return ok })
	body, etag1, ok := m.JWKS()
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil || !ok || len(set.Keys) != 1 || set.Keys[0]["kid"] != first.Published {
		t.Fatalf("JWKS = %s (%v)", body, err)
	}
	if set.Keys[0]["d"] != "" {
		t.Fatal("private material in the JWKS")
	}

	next, err := keys.Rotate(ctx, commands.RotateKeys{}, commands.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, m, func() bool { _, err := m.Key(ctx, next.KID); return err == nil })
	if _, etag2, _ := m.JWKS(); etag2 == etag1 {
		t.Fatal("the ETag did not change with the set")
	}
	if a, _ := m.ActiveKey(); a.KID != first.Published {
		t.Fatal("a pre-published key became active in the read model")
	}

	if _, err := keys.Revoke(ctx, commands.RevokeKey{KID: first.Published}, commands.Metadata{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, m, func() bool { _, err := m.Key(ctx, first.Published); return errors.Is(err, verifier.ErrKeyRevoked) })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Follow = %v", err)
	}
}

// waitFor waits on the model's change notifications (the feed delivers
// asynchronously) until cond holds; the deadline only bounds a broken test.
func waitFor(t *testing.T, m *jwks.Model, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		changed := m.Changed() // taken before the check, so no change is missed
		if cond() {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatal("the read model never caught up")
		}
	}
}

func TestApplyIsIdempotentAgainstReload(t *testing.T) {
	ctx := context.Background()
	store := memstore.New(nil)
	sp, _ := local.Open(t.TempDir(), local.Options{MasterKey: make([]byte, 32)})
	keys, _ := commands.NewKeys(commands.KeysConfig{Store: store, Secrets: sp})
	if _, err := keys.Tick(ctx, commands.Metadata{}); err != nil {
		t.Fatal(err)
	}
	m := jwks.New()
	if err := m.Reload(ctx, store); err != nil {
		t.Fatal(err)
	}
	_, etag, _ := m.JWKS()
	recs, _ := store.ReadAll(ctx, 0, 100)
	for _, r := range recs {
		if err := m.Apply(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, again, _ := m.JWKS(); again != etag {
		t.Fatal("re-applying records the model had changed it")
	}
}
