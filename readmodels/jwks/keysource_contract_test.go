package jwks_test

import (
	"context"
	"crypto/ed25519"
	"testing"

	"github.com/authledger/authledger/client/verifier/keysourcetest"
	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/readmodels/jwks"
	"github.com/authledger/authledger/secrets"
	"github.com/authledger/authledger/secrets/local"
)

// TestTheModelIsAKeySource runs the client's KeySource contract on the
// in-process JWKS read model authledger verifies its own tokens with: a
// ring with a revoked key and two in force, and a rotation after the first
// lookups.
func TestTheModelIsAKeySource(t *testing.T) {
	keysourcetest.Run(t, func(t *testing.T) keysourcetest.Fixture {
		ctx := context.Background()
		store := memstore.New(nil)
		sp, err := local.Open(t.TempDir(), local.Options{MasterKey: make([]byte, 32)})
		if err != nil {
			t.Fatal(err)
		}
		keys, err := commands.NewKeys(commands.KeysConfig{Store: store, Secrets: sp})
		if err != nil {
			t.Fatal(err)
		}
		meta := commands.Metadata{Actor: "test"}
		first, err := keys.Tick(ctx, meta)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := keys.Rotate(ctx, commands.RotateKeys{Immediately: true}, meta); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := keys.Revoke(ctx, commands.RevokeKey{KID: first.Published, Reason: "test"}, meta); err != nil {
			t.Fatal(err)
		}
		m := jwks.New()
		if err := m.Reload(ctx, store); err != nil {
			t.Fatal(err)
		}
		return keysourcetest.Fixture{
			Source:  m,
			Keys:    privateKeys(t, m, sp),
			Revoked: []string{first.Published},
			AddKey: func(t *testing.T) (string, ed25519.PrivateKey) {
				k, err := keys.Rotate(ctx, commands.RotateKeys{Immediately: true}, meta)
				if err != nil {
					t.Fatal(err)
				}
				// What the runner or Follow does on the ledger record.
				if err := m.Reload(ctx, store); err != nil {
					t.Fatal(err)
				}
				return k.KID, privateKeys(t, m, sp)[k.KID]
			},
		}
	})
}

// privateKeys reads, from the secret provider, the private half of every
// key the model's ring publishes.
func privateKeys(t *testing.T, m *jwks.Model, sp secrets.Provider) map[string]ed25519.PrivateKey {
	t.Helper()
	out := map[string]ed25519.PrivateKey{}
	for _, k := range m.Keys() {
		if !k.InJWKS() {
			continue
		}
		sec, err := sp.GetVersion(context.Background(), k.Secret.Name, k.Secret.Version)
		if err != nil {
			t.Fatal(err)
		}
		out[k.KID] = ed25519.NewKeyFromSeed(sec.Value.Bytes())
	}
	return out
}
