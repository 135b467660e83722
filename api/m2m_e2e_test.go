package api_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/authledger/authledger/client/m2m"
	"github.com/authledger/authledger/client/verifier"
	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/client"
)

func TestM2MSourceAndVerifierAgainstTheTokenEndpoint(t *testing.T) {
	t.Parallel()
	env := newSvcEnv(t, svcEnvOptions{})
	priv, pub := newEdKey(t)
	a := env.register(t, commands.RegisterService{Name: "a", Scopes: []string{"read"}, Audiences: []string{"https://a.svc"}})
	b := env.register(t, commands.RegisterService{Name: "b", Scopes: []string{"read"}, Audiences: []string{"https://b.svc"}, Keys: []client.PublicKey{pub}, NoSecret: true})

	srcA, err := m2m.New(m2m.Config{TokenURL: env.tokenURL, ClientID: string(a.Client.ID), ClientSecret: a.ClientSecret, Audiences: []string{"https://a.svc"}})
	if err != nil {
		t.Fatal(err)
	}
	srcB, err := m2m.New(m2m.Config{TokenURL: env.tokenURL, Issuer: svcIssuer, ClientID: string(b.Client.ID), PrivateKey: priv, KeyID: pub.KeyID, Audiences: []string{"https://b.svc"}})
	if err != nil {
		t.Fatal(err)
	}
	tokA, err := srcA.Token()
	if err != nil {
		t.Fatalf("secret source: %v", err)
	}
	tokB, err := srcB.Token()
	if err != nil {
		t.Fatalf("private_key_jwt source: %v", err)
	}

	keys := verifier.NewKeySet(map[string]ed25519.PublicKey{"test-key": env.signer.pub})
	verifierFor := func(aud string) *verifier.Verifier {
		v, err := verifier.New(verifier.Config{Issuer: svcIssuer, Audiences: []string{aud}, Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	ctx := context.Background()
	if c, err := verifierFor("https://b.svc").Verify(ctx, tokB.AccessToken); err != nil || c.Subject != string(b.Client.ID) {
		t.Fatalf("B's own token at B: %v", err)
	}
	if _, err := verifierFor("https://b.svc").Verify(ctx, tokA.AccessToken); !errors.Is(err, verifier.ErrWrongAudience) {
		t.Fatalf("A's token at B: %v, want ErrWrongAudience", err)
	}
	if _, err := verifierFor("https://a.svc").Verify(ctx, tokA.AccessToken); err != nil {
		t.Fatalf("A's own token at A: %v", err)
	}
	// A wrong secret opens the source's breaker instead of hammering.
	bad, _ := m2m.New(m2m.Config{TokenURL: env.tokenURL, ClientID: string(a.Client.ID), ClientSecret: "wrong"})
	if _, err := bad.Token(); !m2m.IsAuthFailure(err) {
		t.Fatalf("wrong secret: %v", err)
	}
}
