package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/authledger/authledger/internal/pgtest"
	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// Two binaries share a PostgreSQL ledger, a secret directory and Redis, as
// two instances behind a load balancer do.
func TestTwoInstancesShareReplayProtectionAndDisables(t *testing.T) {
	t.Parallel()
	const issuer = "https://auth.instances.test"
	shared := t.TempDir()
	env := map[string]string{
		"AUTHLEDGER_ISSUER":    issuer,
		"AUTHLEDGER_STORE":     pgtest.NewDatabase(t),
		"AUTHLEDGER_REDIS_URL": "redis://127.0.0.1:6379/0",
		"AUTHLEDGER_SECRETS":   "local://" + filepath.ToSlash(filepath.Join(shared, "secrets")),
	}
	a := e2eharness.Start(t, bin, e2eharness.Options{Env: env})
	b := e2eharness.Start(t, bin, e2eharness.Options{Env: env})

	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	jwkFile := filepath.Join(t.TempDir(), "svc.jwk")
	_ = os.WriteFile(jwkFile, []byte(`{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"`+base64.RawURLEncoding.EncodeToString(pub)+`"}`), 0o600)
	svc := registerService(t, a, "--name", "worker", "--scopes", "jobs:run", "--jwk", jwkFile)
	withSecret := registerService(t, a, "--name", "cron", "--scopes", "jobs:run")

	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: priv}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	assertion := func(jti string) string {
		raw, err := jwt.Signed(signer).Claims(jwt.Claims{Issuer: svc.ClientID, Subject: svc.ClientID, Audience: jwt.Audience{issuer},
			Expiry: jwt.NewNumericDate(time.Now().Add(2 * time.Minute)), ID: jti}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	post := func(srv *e2eharness.Server, form url.Values, basicID, basicSecret string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.BaseURL+"/oauth2/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basicID != "" {
			req.SetBasicAuth(basicID, basicSecret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Error string `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Error
	}
	form := func(a string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}}
	}

	// Both instances know the client (each through its own feed).
	for _, srv := range []*e2eharness.Server{a, b} {
		eventually(t, "instance sees the client", func() error {
			if st, code := post(srv, form(assertion(newJTI(t))), "", ""); st != 200 {
				return errString(code)
			}
			return nil
		})
	}
	// One assertion, accepted once across the two instances.
	once := assertion(newJTI(t))
	if st, code := post(a, form(once), "", ""); st != 200 {
		t.Fatalf("first use on A: %d %s", st, code)
	}
	if st, code := post(b, form(once), "", ""); st != 401 || code != "invalid_client" {
		t.Fatalf("replay on B: %d %s, want 401 invalid_client", st, code)
	}

	// A disable through instance A's CLI stops the secret on instance B.
	eventually(t, "B accepts the secret", func() error {
		if st, code := post(b, url.Values{"grant_type": {"client_credentials"}}, withSecret.ClientID, withSecret.ClientSecret); st != 200 {
			return errString(code)
		}
		return nil
	})
	if res := a.CLI("services", "disable", withSecret.ClientID); res.Code != 0 {
		t.Fatalf("disable: %s", res.Stderr)
	}
	took := eventually(t, "B refuses the disabled client", func() error {
		if st, _ := post(b, url.Values{"grant_type": {"client_credentials"}}, withSecret.ClientID, withSecret.ClientSecret); st != 401 {
			return errString("still accepted")
		}
		return nil
	})
	t.Logf("instance B refused the disabled client after %v", took)
}

func newJTI(t *testing.T) string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}
