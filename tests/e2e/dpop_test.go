package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authledger/authledger/client/dpop"
	"github.com/authledger/authledger/client/verifier"
	"github.com/authledger/authledger/internal/pgtest"
	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// dpopCall is one request with optional Basic client authentication, an
// Authorization header and DPoP proofs; it answers status, JSON body and
// headers.
type dpopCall struct {
	method, url, body, contentType string
	client                         *registered
	auth                           string
	proofs                         []string
}

func (c dpopCall) do(t *testing.T) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(c.method, c.url, strings.NewReader(c.body))
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	if c.client != nil {
		req.SetBasicAuth(url.QueryEscape(c.client.ClientID), url.QueryEscape(c.client.ClientSecret))
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	for _, p := range c.proofs {
		req.Header.Add("DPoP", p)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out, resp.Header
}

func tokenCall(base string, cl registered, form url.Values, proofs ...string) dpopCall {
	return dpopCall{method: http.MethodPost, url: base + "/oauth2/token", body: form.Encode(), contentType: "application/x-www-form-urlencoded", client: &cl, proofs: proofs}
}

func proofFor(t *testing.T, k *dpop.Key, method, uri string, o dpop.ProofOptions) string {
	t.Helper()
	p, err := k.Proof(method, uri, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDPoPAgainstTheBinary drives every DPoP flow of docs/dpop.md through
// `authledger serve`: bound client_credentials, a session started over
// DPoP whose refresh family is bound to the key, a refresh with another
// key refused and recorded, introspection's cnf, revocation of a bound
// token, the metadata, and a client registered with --dpop.
func TestDPoPAgainstTheBinary(t *testing.T) {
	t.Parallel()
	const issuer = "https://auth.dpop.test"
	srv := e2eharness.Start(t, bin, e2eharness.Options{Env: map[string]string{"AUTHLEDGER_ISSUER": issuer}})
	login := registerService(t, srv, "--name", "login", "--scopes", "sessions:create")
	strict := registerService(t, srv, "--name", "strict", "--scopes", "jobs:run", "--dpop")
	a, _ := dpop.NewKey()
	b, _ := dpop.NewKey()
	tokenURI := issuer + "/oauth2/token"
	cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"sessions:create"}}

	var m2m string
	eventually(t, "the login client is usable", func() error {
		code, out, _ := tokenCall(srv.BaseURL, login, cc, proofFor(t, a, "POST", tokenURI, dpop.ProofOptions{})).do(t)
		if code != 200 {
			return fmt.Errorf("%d %v", code, out)
		}
		if out["token_type"] != "DPoP" {
			return fmt.Errorf("token_type %v", out["token_type"])
		}
		m2m = out["access_token"].(string)
		return nil
	})

	// The project's verifier, on the server's JWKS, accepts the token
	// with a proof by key A for a resource-server request, and only so.
	remote, err := verifier.NewRemote(verifier.RemoteConfig{URL: srv.BaseURL + "/.well-known/jwks.json"})
	if err != nil {
		t.Fatal(err)
	}
	pc, _ := verifier.NewProofChecker(verifier.ProofConfig{Replay: verifier.NewMemoryReplayCache(nil)})
	v, err := verifier.New(verifier.Config{Issuer: issuer, Audiences: []string{issuer}, Keys: remote, Leeway: 5 * time.Second, DPoP: pc,
		RequestURI: func(r *http.Request) string { return "https://rs.dpop.test" + r.URL.EscapedPath() }})
	if err != nil {
		t.Fatal(err)
	}
	rsReq := func(scheme string, k *dpop.Key) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, "https://rs.dpop.test/jobs", nil)
		r.Header.Set("Authorization", scheme+" "+m2m)
		if k != nil {
			r.Header.Set("DPoP", proofFor(t, k, "GET", "https://rs.dpop.test/jobs", dpop.ProofOptions{AccessToken: m2m}))
		}
		return r
	}
	if c, err := v.VerifyRequest(rsReq("DPoP", a)); err != nil || c.JKT != a.Thumbprint() {
		t.Fatalf("resource server: %v, %+v", err, c)
	}
	if _, err := v.VerifyRequest(rsReq("DPoP", b)); !errors.Is(err, verifier.ErrDPoPKeyMismatch) {
		t.Fatalf("key B at the resource server: %v", err)
	}
	if _, err := v.VerifyRequest(rsReq("Bearer", nil)); !errors.Is(err, verifier.ErrBoundTokenAsBearer) {
		t.Fatalf("as Bearer at the resource server: %v", err)
	}

	t.Run("token endpoint refusals", func(t *testing.T) {
		replayed := proofFor(t, a, "POST", tokenURI, dpop.ProofOptions{})
		if code, out, _ := tokenCall(srv.BaseURL, login, cc, replayed).do(t); code != 200 {
			t.Fatalf("first use: %d %v", code, out)
		}
		for name, proofs := range map[string][]string{
			"a replayed proof": {replayed},
			"the wrong htm":    {proofFor(t, a, "GET", tokenURI, dpop.ProofOptions{})},
			"the wrong htu":    {proofFor(t, a, "POST", issuer+"/oauth2/revoke", dpop.ProofOptions{})},
			"the Host instead": {proofFor(t, a, "POST", srv.BaseURL+"/oauth2/token", dpop.ProofOptions{})},
			"a stale iat":      {proofFor(t, a, "POST", tokenURI, dpop.ProofOptions{Now: time.Now().Add(-10 * time.Minute)})},
			"two proofs":       {proofFor(t, a, "POST", tokenURI, dpop.ProofOptions{}), proofFor(t, a, "POST", tokenURI, dpop.ProofOptions{})},
			"not a JWT":        {"garbage"},
			"alg none":         {"eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6Im5vbmUifQ.eyJqdGkiOiJ4In0."},
		} {
			code, out, _ := tokenCall(srv.BaseURL, login, cc, proofs...).do(t)
			if code != 400 || out["error"] != "invalid_dpop_proof" {
				t.Errorf("%s: %d %v, want 400 invalid_dpop_proof", name, code, out)
			}
		}
	})

	t.Run("a client registered with --dpop must prove a key", func(t *testing.T) {
		form := url.Values{"grant_type": {"client_credentials"}}
		eventually(t, "strict client known", func() error {
			code, out, _ := tokenCall(srv.BaseURL, strict, form).do(t)
			if code != 400 || out["error"] != "invalid_dpop_proof" {
				return fmt.Errorf("without proof: %d %v", code, out)
			}
			return nil
		})
		code, out, _ := tokenCall(srv.BaseURL, strict, form, proofFor(t, b, "POST", tokenURI, dpop.ProofOptions{})).do(t)
		if code != 200 || out["token_type"] != "DPoP" {
			t.Fatalf("with proof: %d %v", code, out)
		}
	})

	t.Run("a client registered with --dpop-nonce gets a server nonce first", func(t *testing.T) {
		noncey := registerService(t, srv, "--name", "noncey", "--scopes", "jobs:run", "--dpop-nonce")
		form := url.Values{"grant_type": {"client_credentials"}}
		var nonce string
		eventually(t, "use_dpop_nonce", func() error {
			code, out, h := tokenCall(srv.BaseURL, noncey, form, proofFor(t, a, "POST", tokenURI, dpop.ProofOptions{})).do(t)
			if code != 400 || out["error"] != "use_dpop_nonce" || h.Get("DPoP-Nonce") == "" {
				return fmt.Errorf("%d %v nonce %q", code, out, h.Get("DPoP-Nonce"))
			}
			nonce = h.Get("DPoP-Nonce")
			return nil
		})
		if code, out, _ := tokenCall(srv.BaseURL, noncey, form, proofFor(t, a, "POST", tokenURI, dpop.ProofOptions{Nonce: "forged"})).do(t); code != 400 || out["error"] != "use_dpop_nonce" {
			t.Fatalf("a made-up nonce: %d %v", code, out)
		}
		code, out, _ := tokenCall(srv.BaseURL, noncey, form, proofFor(t, a, "POST", tokenURI, dpop.ProofOptions{Nonce: nonce})).do(t)
		if code != 200 || out["token_type"] != "DPoP" {
			t.Fatalf("with the nonce: %d %v", code, out)
		}
	})

	// A session started over DPoP: the family is bound to key A.
	sessURI := issuer + "/v1/sessions"
	body := `{"subject":"alice","amr":["hwk"],"acr":"aal2"}`
	start := func(scheme string, proofs ...string) (int, map[string]any, http.Header) {
		return dpopCall{method: http.MethodPost, url: srv.BaseURL + "/v1/sessions", body: body, contentType: "application/json", auth: scheme + " " + m2m, proofs: proofs}.do(t)
	}
	if code, out, h := start("Bearer"); code != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "DPoP ") {
		t.Fatalf("bound M2M token as Bearer on /v1/sessions: %d %v %q", code, out, h.Get("WWW-Authenticate"))
	}
	if code, out, h := start("DPoP", proofFor(t, b, "POST", sessURI, dpop.ProofOptions{AccessToken: m2m})); code != 401 {
		t.Fatalf("proof by key B on /v1/sessions: %d %v %q", code, out, h.Get("WWW-Authenticate"))
	}
	if code, out, h := start("DPoP", proofFor(t, a, "POST", sessURI, dpop.ProofOptions{})); code != 401 || !strings.Contains(h.Get("WWW-Authenticate"), "invalid_dpop_proof") {
		t.Fatalf("proof without ath on /v1/sessions: %d %v %q", code, out, h.Get("WWW-Authenticate"))
	}
	if code, out, h := start("DPoP"); code != 401 || !strings.Contains(h.Get("WWW-Authenticate"), "invalid_dpop_proof") {
		t.Fatalf("DPoP scheme without a proof on /v1/sessions: %d %v %q", code, out, h.Get("WWW-Authenticate"))
	}
	_, plain, _ := tokenCall(srv.BaseURL, login, cc).do(t)
	if plain["token_type"] != "Bearer" {
		t.Fatalf("a grant without a proof: %v", plain)
	}
	unbound := plain["access_token"].(string)
	if code, out, h := (dpopCall{method: http.MethodPost, url: srv.BaseURL + "/v1/sessions", body: body, contentType: "application/json",
		auth: "DPoP " + unbound, proofs: []string{proofFor(t, a, "POST", sessURI, dpop.ProofOptions{AccessToken: unbound})}}).do(t); code != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "DPoP ") {
		t.Fatalf("an unbound token under the DPoP scheme: %d %v %q", code, out, h.Get("WWW-Authenticate"))
	}
	code, sess, _ := start("DPoP", proofFor(t, a, "POST", sessURI, dpop.ProofOptions{AccessToken: m2m}))
	if code != 201 || sess["token_type"] != "DPoP" {
		t.Fatalf("start session over DPoP: %d %v", code, sess)
	}
	rt := sess["refresh_token"].(string)
	refresh := func(rt string, k *dpop.Key) (int, map[string]any) {
		var proofs []string
		if k != nil {
			proofs = append(proofs, proofFor(t, k, "POST", tokenURI, dpop.ProofOptions{}))
		}
		code, out, _ := tokenCall(srv.BaseURL, login, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, proofs...).do(t)
		return code, out
	}
	if code, out := refresh(rt, b); code != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("refresh with key B: %d %v", code, out)
	}
	if code, out := refresh(rt, nil); code != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("refresh without a proof: %d %v", code, out)
	}
	code, next := refresh(rt, a)
	if code != 200 || next["token_type"] != "DPoP" {
		t.Fatalf("refresh with key A (the refused attempts must not have spent the token): %d %v", code, next)
	}

	t.Run("introspection returns cnf", func(t *testing.T) {
		for name, tok := range map[string]string{"access": next["access_token"].(string), "refresh": next["refresh_token"].(string)} {
			code, out, _ := dpopCall{method: http.MethodPost, url: srv.BaseURL + "/oauth2/introspect", body: url.Values{"token": {tok}}.Encode(),
				contentType: "application/x-www-form-urlencoded", client: &login}.do(t)
			cnf, _ := out["cnf"].(map[string]any)
			if code != 200 || out["active"] != true || cnf["jkt"] != a.Thumbprint() {
				t.Fatalf("%s token: %d %v", name, code, out)
			}
			if name == "access" && out["token_type"] != "DPoP" {
				t.Fatalf("access token_type %v", out["token_type"])
			}
		}
	})

	t.Run("revocation accepts a bound token", func(t *testing.T) {
		at := next["access_token"].(string)
		form := url.Values{"token": {at}}
		if code, out, _ := (dpopCall{method: http.MethodPost, url: srv.BaseURL + "/oauth2/revoke", body: form.Encode(), contentType: "application/x-www-form-urlencoded", client: &login}).do(t); code != 200 {
			t.Fatalf("revoke: %d %v", code, out)
		}
		eventually(t, "revoked token inactive", func() error {
			_, out, _ := dpopCall{method: http.MethodPost, url: srv.BaseURL + "/oauth2/introspect", body: form.Encode(), contentType: "application/x-www-form-urlencoded", client: &login}.do(t)
			if out["active"] != false {
				return fmt.Errorf("still %v", out)
			}
			return nil
		})
	})

	t.Run("the metadata lists the proof algorithms", func(t *testing.T) {
		_, out, _ := dpopCall{method: http.MethodGet, url: srv.BaseURL + "/.well-known/oauth-authorization-server"}.do(t)
		if fmt.Sprint(out["dpop_signing_alg_values_supported"]) != "[EdDSA Ed25519 ES256]" {
			t.Fatalf("metadata: %v", out["dpop_signing_alg_values_supported"])
		}
	})

	t.Run("the ledger records the thumbprints and the refused refresh", func(t *testing.T) {
		res := srv.CLI("audit", "export")
		if res.Code != 0 {
			t.Fatalf("export: %s", res.Stderr)
		}
		var issuedBound, familyBound, rejected int
		for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
			var e struct {
				Type string         `json:"type"`
				Data map[string]any `json:"data"`
			}
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatal(err)
			}
			switch {
			case e.Type == "token.issued.v1" && e.Data["jkt"] != nil:
				issuedBound++
			case e.Type == "refreshtoken.family_started.v1" && e.Data["jkt"] == a.Thumbprint():
				familyBound++
			case e.Type == "refreshtoken.presentation_rejected.v1" && e.Data["reason"] == "dpop_key_mismatch":
				rejected++
				if e.Data["jkt"] != b.Thumbprint() && e.Data["jkt"] != nil {
					t.Errorf("rejection records jkt %v", e.Data["jkt"])
				}
			}
			if strings.Contains(line, `"d":`) {
				t.Errorf("private key material in the ledger: %s", line)
			}
		}
		if issuedBound < 4 || familyBound != 1 || rejected != 2 {
			t.Fatalf("bound issuances %d, bound families %d, key-mismatch rejections %d", issuedBound, familyBound, rejected)
		}
	})
}

// TestOneDPoPProofIsAcceptedOnceAcrossTwoInstances sends the same proof
// concurrently to two instances sharing PostgreSQL and Redis: exactly one
// token request succeeds, every other is invalid_dpop_proof.
func TestOneDPoPProofIsAcceptedOnceAcrossTwoInstances(t *testing.T) {
	t.Parallel()
	const issuer = "https://auth.dpop-instances.test"
	shared := t.TempDir()
	env := map[string]string{
		"AUTHLEDGER_ISSUER":    issuer,
		"AUTHLEDGER_STORE":     pgtest.NewDatabase(t),
		"AUTHLEDGER_REDIS_URL": "redis://127.0.0.1:6379/0",
		"AUTHLEDGER_SECRETS":   "local://" + shared + "/secrets",
	}
	a := e2eharness.Start(t, bin, e2eharness.Options{Env: env})
	b := e2eharness.Start(t, bin, e2eharness.Options{Env: env})
	svc := registerService(t, a, "--name", "racer", "--scopes", "jobs:run")
	k, _ := dpop.NewKey()
	form := url.Values{"grant_type": {"client_credentials"}}
	for _, s := range []*e2eharness.Server{a, b} {
		eventually(t, "client known on "+s.BaseURL, func() error {
			code, out, _ := tokenCall(s.BaseURL, svc, form, proofFor(t, k, "POST", issuer+"/oauth2/token", dpop.ProofOptions{})).do(t)
			if code != 200 {
				return fmt.Errorf("%d %v", code, out)
			}
			return nil
		})
	}
	for round := range 5 {
		proof := proofFor(t, k, "POST", issuer+"/oauth2/token", dpop.ProofOptions{})
		const n = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, replayed := 0, 0
		start := make(chan struct{})
		for i := range n {
			base := []string{a.BaseURL, b.BaseURL}[i%2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				code, out, _ := tokenCall(base, svc, form, proof).do(t)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case code == 200:
					ok++
				case code == 400 && out["error"] == "invalid_dpop_proof":
					replayed++
				default:
					t.Errorf("round %d: unexpected %d %v", round, code, out)
				}
			}()
		}
		close(start)
		wg.Wait()
		if ok != 1 || replayed != n-1 {
			t.Fatalf("round %d: %d accepted, %d refused as replays; want exactly 1 accepted", round, ok, replayed)
		}
	}
}
