package e2e

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/authledger/authledger/client/verifier"
	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// A resource server built from client/verifier alone — remote JWKS and the
// revocation-feed Follower — refuses a token soon after the client revokes
// it at the real binary.
func TestAFollowingVerifierRefusesATokenRevokedAtTheServer(t *testing.T) {
	t.Parallel()
	const issuer = "https://auth.follower.test"
	srv := e2eharness.Start(t, bin, e2eharness.Options{Env: map[string]string{"AUTHLEDGER_ISSUER": issuer}})
	svc := registerService(t, srv, "--name", "orders-caller", "--scopes", "orders:read")
	cc := clientcredentials.Config{ClientID: svc.ClientID, ClientSecret: svc.ClientSecret, TokenURL: srv.BaseURL + "/oauth2/token",
		Scopes: []string{"orders:read"}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	keys, err := verifier.NewRemote(verifier.RemoteConfig{URL: srv.BaseURL + "/.well-known/jwks.json"})
	if err != nil {
		t.Fatal(err)
	}
	fol, err := verifier.NewFollower(verifier.FollowerConfig{URL: srv.BaseURL + "/v1/revocations", Wait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- fol.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	// A client that registered no audience gets the issuer as its aud.
	v, err := verifier.New(verifier.Config{Issuer: issuer, Audiences: []string{issuer}, Keys: keys, Revocation: fol})
	if err != nil {
		t.Fatal(err)
	}
	var tok string
	eventually(t, "a token for the registered client", func() error {
		t, err := cc.Token(ctx)
		if err == nil {
			tok = t.AccessToken
		}
		return err
	})
	select {
	case <-fol.Ready():
	case <-time.After(15 * time.Second):
		t.Fatal("the follower had no answer from the feed within 15 s")
	}
	eventually(t, "the live token verifies", func() error { _, err := v.Verify(ctx, tok); return err })

	if code, body := postForm(t, srv.BaseURL, "/oauth2/revoke", svc, url.Values{"token": {tok}}); code != 200 {
		t.Fatalf("revoke: %d %v", code, body)
	}
	took := eventually(t, "the revoked token is refused", func() error {
		if _, err := v.Verify(ctx, tok); !errors.Is(err, verifier.ErrRevoked) {
			return errors.New("still accepted")
		}
		return nil
	})
	t.Logf("refused %v after the revocation answered", took)
}
