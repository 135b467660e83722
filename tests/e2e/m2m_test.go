package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/authledger/authledger/client/m2m"
	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

type registered struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

func registerService(t *testing.T, srv *e2eharness.Server, args ...string) registered {
	t.Helper()
	res := srv.CLI(append([]string{"services", "register"}, args...)...)
	if res.Code != 0 {
		t.Fatalf("services register: exit %d: %s", res.Code, res.Stderr)
	}
	var r registered
	if err := json.Unmarshal([]byte(res.Stdout), &r); err != nil || r.ClientID == "" {
		t.Fatalf("services register printed %q: %v", res.Stdout, err)
	}
	return r
}

// eventually retries f until it succeeds; the server sees CLI changes
// through its ledger feed, so the first try may come too early.
func eventually(t *testing.T, what string, f func() error) time.Duration {
	t.Helper()
	start := time.Now()
	var err error
	for time.Since(start) < 15*time.Second {
		if err = f(); err == nil {
			return time.Since(start)
		}
		// Slow enough to stay inside the failed-authentication burst.
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, err)
	return 0
}

func TestClientCredentialsAgainstTheBinary(t *testing.T) {
	t.Parallel()
	const issuer = "https://auth.e2e.test"
	srv := e2eharness.Start(t, bin, e2eharness.Options{Env: map[string]string{"AUTHLEDGER_ISSUER": issuer}})
	tokenURL := srv.BaseURL + "/oauth2/token"
	ctx := context.Background()

	// The first admin client comes from the CLI: there is no default credential.
	ops := registerService(t, srv, "--name", "ops", "--scopes", "services:admin")
	if ops.ClientSecret == "" {
		t.Fatal("register printed no secret")
	}
	cc := clientcredentials.Config{ClientID: ops.ClientID, ClientSecret: ops.ClientSecret, TokenURL: tokenURL}
	var adminToken string
	seen := eventually(t, "token for the CLI-registered client", func() error {
		tok, err := cc.Token(ctx)
		if err == nil {
			adminToken = tok.AccessToken
		}
		return err
	})
	t.Logf("the server accepted the CLI-registered client after %v", seen)

	// The admin API registers a service with a public key only.
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	jwk := `{"kty":"OKP","crv":"Ed25519","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `","kid":"k1"}`
	req, _ := http.NewRequest(http.MethodPost, srv.BaseURL+"/v1/admin/services",
		strings.NewReader(`{"name":"billing","scopes":["invoices:read"],"audiences":["https://billing.svc"],"jwks":`+jwk+`}`))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var billing registered
	_ = json.NewDecoder(resp.Body).Decode(&billing)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || billing.ClientID == "" || billing.ClientSecret != "" {
		t.Fatalf("admin register: %s %+v", resp.Status, billing)
	}

	// That service gets tokens with private_key_jwt through client/m2m.
	src, err := m2m.New(m2m.Config{TokenURL: tokenURL, ClientID: billing.ClientID, PrivateKey: priv, KeyID: "k1",
		// The server knows its public URL as the issuer; the token endpoint
		// as seen through this test's port is not it.
		AssertionAudience: issuer, Scopes: []string{"invoices:read"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Token(); err != nil {
		t.Fatalf("private_key_jwt token: %v", err)
	}

	// A private JWK is refused by the CLI with a clear message.
	privFile := filepath.Join(t.TempDir(), "private.jwk")
	_ = os.WriteFile(privFile, []byte(`{"kty":"OKP","crv":"Ed25519","x":"`+base64.RawURLEncoding.EncodeToString(pub)+`","d":"`+base64.RawURLEncoding.EncodeToString(priv.Seed())+`"}`), 0o600)
	if res := srv.CLI("services", "register", "--name", "x", "--scopes", "read", "--jwk", privFile); res.Code == 0 || !strings.Contains(res.Stderr, "private") {
		t.Fatalf("private JWK: exit %d %s", res.Code, res.Stderr)
	}

	// Disabling through the CLI stops the running server's grants.
	if res := srv.CLI("services", "disable", ops.ClientID); res.Code != 0 {
		t.Fatalf("disable: %s", res.Stderr)
	}
	stopped := eventually(t, "disabled client refused", func() error {
		if _, err := cc.Token(ctx); err == nil {
			return errString("still issuing")
		}
		return nil
	})
	t.Logf("the disabled client stopped working after %v", stopped)
}

type errString string

func (e errString) Error() string { return string(e) }
