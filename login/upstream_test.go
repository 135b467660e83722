package login_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/domain/upstream"
	"github.com/authledger/authledger/login"
	"github.com/authledger/authledger/replayguard"
)

// idp is an upstream OpenID provider in process: discovery, JWKS, an
// authorization endpoint that approves at once, and a token endpoint that
// checks the PKCE verifier and answers a signed ID token with the nonce.
type idp struct {
	t      testing.TB
	srv    *httptest.Server
	key    *ecdsa.PrivateKey
	mu     sync.Mutex
	codes  map[string]authz // code → what the authorization request carried
	signer jose.Signer
}

type authz struct{ nonce, challenge, redirect string }

func newIDP(t testing.TB) *idp {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	d := &idp{t: t, key: key, codes: map[string]authz{}}
	d.signer = d.signerFor(key, jose.ES256)
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": d.srv.URL, "authorization_endpoint": d.srv.URL + "/authorize", "token_endpoint": d.srv.URL + "/token",
			"jwks_uri": d.srv.URL + "/jwks", "id_token_signing_alg_values_supported": []string{"ES256"},
			"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	})
	mux.HandleFunc("/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
			http.Error(w, "PKCE required", http.StatusBadRequest)
			return
		}
		code := randomString()
		d.mu.Lock()
		d.codes[code] = authz{nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri")}
		d.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		d.mu.Lock()
		a, ok := d.codes[r.PostForm.Get("code")]
		delete(d.codes, r.PostForm.Get("code"))
		d.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != a.challenge {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		idt := d.token(d.claims("browser-user", "authledger-web", func(c map[string]any) { c["nonce"] = a.nonce }))
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 60, "id_token": idt})
	})
	d.srv = httptest.NewServer(mux)
	t.Cleanup(d.srv.Close)
	return d
}

func randomString() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (d *idp) signerFor(key any, alg jose.SignatureAlgorithm) jose.Signer {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		d.t.Fatal(err)
	}
	return s
}

func (d *idp) claims(sub, aud string, edit ...func(map[string]any)) map[string]any {
	now := time.Now()
	c := map[string]any{"iss": d.srv.URL, "sub": sub, "aud": aud, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": randomString()}
	for _, e := range edit {
		e(c)
	}
	return c
}

func (d *idp) token(claims map[string]any) string { return d.tokenWith(d.signer, claims) }

func (d *idp) tokenWith(s jose.Signer, claims map[string]any) string {
	raw, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		d.t.Fatal(err)
	}
	return raw
}

// withUpstream configures the provider "corp" on d for client svc-app
// (token exchange) and the browser flow.
func withUpstream(d *idp) fixtureOpt {
	return func(f *fixture, cfg *login.Config) {
		p := login.Provider{Name: "corp", Issuer: d.srv.URL, Audiences: []string{"authledger"}, SubjectPrefix: "corp:",
			Clients: []string{"svc-app"}, ClientID: "authledger-web"}
		if err := p.Check(func(string) (string, bool) { return "", false }); err != nil {
			f.t.Fatal(err)
		}
		u, err := login.NewUpstreams([]login.Provider{p}, commands.NewUpstreamSignInHandler(f.store, f.tok.StartSession, f.clock.Now),
			replayguard.NewMemory(f.clock.Now), d.srv.Client(), f.clock.Now)
		if err != nil {
			f.t.Fatal(err)
		}
		cfg.Upstreams = u
		// The token endpoint's place for the grant: form parsed, client
		// authenticated (as svc-app or the client the test names).
		f.server.POST("/oauth2/token", func(c echo.Context) error {
			if err := c.Request().ParseForm(); err != nil {
				return err
			}
			cl := c.Request().Header.Get("X-Test-Client")
			return u.Grant().Handle(c, api.AuthenticatedClient{ID: clientID(cl)})
		})
	}
}

func exchange(f *fixture, client, subjectToken string, edit ...func(url.Values)) (int, map[string]any) {
	f.t.Helper()
	form := url.Values{"grant_type": {login.GrantTokenExchange}, "subject_token": {subjectToken}, "subject_token_type": {login.TokenTypeIDToken}}
	for _, e := range edit {
		e(form)
	}
	req := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Test-Client", client)
	rec := httptest.NewRecorder()
	f.server.ServeHTTP(rec, req)
	var body map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	return rec.Code, body
}

func TestTokenExchangeOfAnUpstreamIDToken(t *testing.T) {
	t.Parallel()
	d := newIDP(t)
	f := newFixture(t, withUpstream(d))
	code, body := exchange(f, "svc-app", d.token(d.claims("u-42", "authledger")))
	if code != http.StatusOK {
		t.Fatalf("status %d: %v", code, body)
	}
	if body["issued_token_type"] != login.TokenTypeAccess || body["token_type"] != "Bearer" || body["access_token"] == "" || body["refresh_token"] == nil {
		t.Fatalf("answer = %v", body)
	}
	// The refresh token is bound to the calling client.
	ctx := context.Background()
	rt := body["refresh_token"].(string)
	if _, err := f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: rt, ClientID: "svc-other"}, commands.Metadata{}); err == nil {
		t.Fatal("another client refreshed the exchanged token")
	}
	// The ledger names the upstream issuer and subject, and the session
	// is the mapped subject's.
	recs, err := f.store.ReadStream(ctx, upstream.Stream("corp"))
	if err != nil || len(recs) != 1 || recs[0].Type != upstream.TypeSignedIn {
		t.Fatalf("upstream stream: %v %v", recs, err)
	}
	var ev upstream.SignedIn
	_ = json.Unmarshal(recs[0].Data, &ev)
	if ev.Issuer != d.srv.URL || ev.UpstreamSubject != "u-42" || ev.Subject != "corp:u-42" || ev.ClientID != "svc-app" || ev.Flow != "token_exchange" {
		t.Fatalf("event = %+v", ev)
	}
	if f.count(session.TypeStarted) != 1 {
		t.Fatalf("ledger: %v", f.types())
	}
}

func TestTokenExchangeRefusesABadIDToken(t *testing.T) {
	t.Parallel()
	d := newIDP(t)
	other := newIDP(t) // another issuer, unknown to authledger
	forger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	none := func(claims map[string]any) string {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
		p, _ := json.Marshal(claims)
		return h + "." + base64.RawURLEncoding.EncodeToString(p) + "."
	}
	cases := []struct {
		name   string
		client string
		token  func() string
		reason string
	}{
		{"a bad signature", "svc-app", func() string { return d.tokenWith(d.signerFor(forger, jose.ES256), d.claims("u", "authledger")) }, "signature"},
		{"the wrong audience", "svc-app", func() string { return d.token(d.claims("u", "someone-else")) }, "audience"},
		{"an expired token", "svc-app", func() string {
			return d.token(d.claims("u", "authledger", func(c map[string]any) {
				c["exp"] = time.Now().Add(-time.Hour).Unix()
				c["iat"] = time.Now().Add(-2 * time.Hour).Unix()
			}))
		}, "expired"},
		{"alg none", "svc-app", func() string { return none(d.claims("u", "authledger")) }, "algorithm"},
		{"an unknown issuer", "svc-app", func() string { return other.token(other.claims("u", "authledger")) }, "issuer"},
		{"a client not allowed for the provider", "svc-intruder", func() string { return d.token(d.claims("u", "authledger")) }, "issuer"},
		{"an empty subject", "svc-app", func() string {
			return d.token(d.claims("u", "authledger", func(c map[string]any) { c["sub"] = "" }))
		}, "claims"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, withUpstream(d))
			code, body := exchange(f, tc.client, tc.token())
			if code != http.StatusBadRequest || body["error"] != "invalid_request" {
				t.Fatalf("status %d: %v", code, body)
			}
			if f.count(session.TypeStarted) != 0 {
				t.Fatal("a refused token started a session")
			}
			if got := refusals(t, f); len(got) != 1 || got[0] != tc.reason {
				t.Fatalf("recorded refusals = %v, want [%s]", got, tc.reason)
			}
		})
	}
}

func refusals(t *testing.T, f *fixture) []string {
	t.Helper()
	var out []string
	for _, stream := range []string{upstream.Stream("corp"), upstream.Stream("unknown")} {
		recs, err := f.store.ReadStream(context.Background(), stream)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Type == upstream.TypeRefused {
				var e upstream.Refused
				_ = json.Unmarshal(r.Data, &e)
				out = append(out, e.Reason)
			}
		}
	}
	return out
}

func TestTokenExchangeRefusesAReplayedIDToken(t *testing.T) {
	t.Parallel()
	d := newIDP(t)
	f := newFixture(t, withUpstream(d))
	tok := d.token(d.claims("u-1", "authledger"))
	if code, body := exchange(f, "svc-app", tok); code != http.StatusOK {
		t.Fatalf("first exchange: %d %v", code, body)
	}
	code, body := exchange(f, "svc-app", tok)
	if code != http.StatusBadRequest || body["error"] != "invalid_request" {
		t.Fatalf("replay: %d %v", code, body)
	}
	if got := refusals(t, f); len(got) != 1 || got[0] != "replay" {
		t.Fatalf("refusals = %v", got)
	}
}

func TestTokenExchangeRefusesAWrongTokenType(t *testing.T) {
	t.Parallel()
	d := newIDP(t)
	f := newFixture(t, withUpstream(d))
	code, body := exchange(f, "svc-app", d.token(d.claims("u", "authledger")), func(v url.Values) {
		v.Set("subject_token_type", "urn:ietf:params:oauth:token-type:access_token")
	})
	if code != http.StatusBadRequest || body["error"] != "invalid_request" {
		t.Fatalf("%d %v", code, body)
	}
}

func TestTheBrowserFlowSignsInThroughTheUpstreamWithPKCE(t *testing.T) {
	t.Parallel()
	d := newIDP(t)
	f := newFixture(t, withUpstream(d))
	b := f.browser()
	res := b.do(http.MethodGet, "/login/oidc/corp", nil)
	mustStatus(t, res, http.StatusSeeOther)
	authURL := res.header.Get("Location")
	if !strings.HasPrefix(authURL, d.srv.URL+"/authorize?") || !strings.Contains(authURL, "code_challenge_method=S256") || !strings.Contains(authURL, "nonce=") {
		t.Fatalf("authorize URL = %s", authURL)
	}
	// The upstream approves and redirects back.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	up, err := client.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	_ = up.Body.Close()
	cb, _ := url.Parse(up.Header.Get("Location"))
	if cb.Path != "/login/oidc/corp/callback" {
		t.Fatalf("callback = %s", cb)
	}
	// A forged state is refused, and spends the ceremony.
	forged := f.browser()
	forged.cookies = map[string]string{login.CeremonyCookie: b.cookies[login.CeremonyCookie]}
	q := cb.Query()
	q.Set("state", "forged")
	mustStatus(t, forged.do(http.MethodGet, cb.Path+"?"+q.Encode(), nil), http.StatusUnauthorized)
	// Start again and finish properly.
	b = f.browser()
	res = b.do(http.MethodGet, "/login/oidc/corp", nil)
	up, err = client.Get(res.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	_ = up.Body.Close()
	cb, _ = url.Parse(up.Header.Get("Location"))
	res = b.do(http.MethodGet, cb.Path+"?"+cb.RawQuery, nil)
	mustStatus(t, res, http.StatusSeeOther)
	if res.header.Get("Location") != "/account" || b.cookies[api.SessionCookie] == "" {
		t.Fatalf("no session: %v %s", res.header, res.body)
	}
	rec, err := f.tok.Resolver.Resolve(context.Background(), b.cookies[api.SessionCookie])
	if err != nil || rec.Subject != "corp:browser-user" || rec.ACR != commands.ACRUpstream || rec.ClientID != commands.LoginClientID {
		t.Fatalf("session = %+v, %v", rec, err)
	}
	if got := refusals(t, f); len(got) != 1 || got[0] != "state" {
		t.Fatalf("refusals = %v", got)
	}
}

func clientID(s string) client.ID { return client.ID(s) }

func TestAnUpstreamSignInEnrolsTheFirstPasskeyOnly(t *testing.T) {
	t.Parallel()
	d := newIDP(t)
	f := newFixture(t, withUpstream(d))
	b := f.browser()
	res := b.do(http.MethodGet, "/login/oidc/corp", nil)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	up, err := client.Get(res.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	_ = up.Body.Close()
	cb, _ := url.Parse(up.Header.Get("Location"))
	mustStatus(t, b.do(http.MethodGet, cb.Path+"?"+cb.RawQuery, nil), http.StatusSeeOther)
	first := newAuthenticator(t, rpID, origin)
	opts := b.post("/login/passkey/register/options", map[string]string{})
	mustStatus(t, opts, http.StatusOK)
	mustStatus(t, b.post("/login/passkey/register", map[string]any{"name": "first", "credential": first.create(opts.body)}), http.StatusCreated)
	// A second passkey needs a user-verified session, which an upstream
	// sign-in is not.
	res = b.post("/login/passkey/register/options", map[string]string{})
	mustStatus(t, res, http.StatusUnauthorized)
	if !strings.Contains(res.header.Get("WWW-Authenticate"), "insufficient_user_authentication") {
		t.Fatalf("WWW-Authenticate = %q", res.header.Get("WWW-Authenticate"))
	}
	// The registered passkey signs corp:browser-user in.
	mustStatus(t, f.browser().signIn(first), http.StatusOK)
	if string(first.user) != "corp:browser-user" {
		t.Fatalf("user handle %q", first.user)
	}
}
