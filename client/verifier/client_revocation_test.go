package verifier_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authledger/authledger/client/verifier"
)

// revokedClients is a revocation set that knows disabled clients.
type revokedClients map[string]bool

func (revokedClients) IsRevoked(string, string, string) bool { return false }
func (r revokedClients) IsClientRevoked(id string) bool      { return r[id] }

func TestARevocationHookThatKnowsClientsRefusesTheirTokens(t *testing.T) {
	k := newTestKey(t, "k1")
	set, _ := verifier.ParseJWKS([]byte(k.jwks()))
	v, err := verifier.New(verifier.Config{Issuer: "https://auth.example", Audiences: []string{"api"}, Keys: set,
		Revocation: revokedClients{"svc-disabled": true}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := v.Verify(ctx, k.sign(map[string]any{"client_id": "svc-disabled", "sub": "alice", "sid": "s1"})); !errors.Is(err, verifier.ErrRevoked) {
		t.Fatalf("a disabled client's token: err = %v, want ErrRevoked", err)
	}
	if _, err := v.Verify(ctx, k.sign(map[string]any{"client_id": "svc-live"})); err != nil {
		t.Fatalf("another client's token: %v", err)
	}
}
