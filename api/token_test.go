package api_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	ljwt "github.com/lestrrat-go/jwx/v2/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/eventstore/sqlite"
	"github.com/authledger/authledger/ratelimit"
)

func TestClientCredentialsEndToEndWithXOAuth2(t *testing.T) {
	t.Parallel()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ledger.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	env := newSvcEnv(t, svcEnvOptions{store: store})
	svc := env.register(t, commands.RegisterService{Name: "billing", Scopes: []string{"invoices:read", "invoices:write"}, Audiences: []string{"https://api.billing.test"}})

	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		cfg := clientcredentials.Config{ClientID: string(svc.Client.ID), ClientSecret: svc.ClientSecret, TokenURL: env.tokenURL,
			Scopes: []string{"invoices:read"}, AuthStyle: style}
		tok, err := cfg.Token(context.Background())
		if err != nil {
			t.Fatalf("auth style %v: %v", style, err)
		}
		if tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
			t.Fatalf("token type %q expiry %v", tok.TokenType, tok.Expiry)
		}
		c := env.signer.parse(t, tok.AccessToken)
		if c.Subject != string(svc.Client.ID) || c.ClientID != string(svc.Client.ID) || c.Scope != "invoices:read" {
			t.Fatalf("claims: sub %q client_id %q scope %q", c.Subject, c.ClientID, c.Scope)
		}
		if !slices.Equal([]string(c.Audience), []string{"https://api.billing.test", svcIssuer}) {
			t.Fatalf("aud = %v; want the registered audience and the issuer", c.Audience)
		}
		if life := c.Expiry.Time().Sub(c.IssuedAt.Time()); life != 30*time.Minute {
			t.Fatalf("lifetime %v, want 30m", life)
		}
	}
	if n := env.signer.count.Load(); n != 2 {
		t.Fatalf("%d issuances recorded, want 2", n)
	}
}

type tokenReply struct {
	status int
	header http.Header
	body   map[string]any
}

func (r tokenReply) errCode() string { s, _ := r.body["error"].(string); return s }

func postToken(t testing.TB, env *svcEnv, form url.Values, mutate func(*http.Request)) tokenReply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, env.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if mutate != nil {
		mutate(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := tokenReply{status: resp.StatusCode, header: resp.Header}
	if err := json.Unmarshal(b, &out.body); err != nil {
		t.Fatalf("body %q: %v", b, err)
	}
	return out
}

func basic(id, secret string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret)) }
}

func TestTokenEndpointRequests(t *testing.T) {
	t.Parallel()
	env := newSvcEnv(t, svcEnvOptions{})
	svc := env.register(t, commands.RegisterService{Name: "a", Scopes: []string{"read"}, Audiences: []string{"https://a.test"}})
	id, sec := string(svc.Client.ID), svc.ClientSecret
	cc := url.Values{"grant_type": {"client_credentials"}}
	with := func(kv ...string) url.Values {
		v := url.Values{"grant_type": {"client_credentials"}}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	cases := []struct {
		name   string
		form   url.Values
		mutate func(*http.Request)
		status int
		code   string
	}{
		{"a valid basic request gets a token", cc, basic(id, sec), 200, ""},
		{"a valid post request gets a token", with("client_id", id, "client_secret", sec), nil, 200, ""},
		{"the issuer may be asked for as audience", with("audience", svcIssuer), basic(id, sec), 200, ""},
		{"a registered resource may be asked for", with("resource", "https://a.test"), basic(id, sec), 200, ""},
		{"a wrong secret is invalid_client", cc, basic(id, sec+"x"), 401, "invalid_client"},
		{"an unknown client is invalid_client", cc, basic("svc-nobody", sec), 401, "invalid_client"},
		{"no authentication is invalid_client", cc, nil, 401, "invalid_client"},
		{"two methods at once are invalid_request", with("client_id", id, "client_secret", sec), basic(id, sec), 400, "invalid_request"},
		{"a scope beyond the grant is invalid_scope", with("scope", "read admin"), basic(id, sec), 400, "invalid_scope"},
		{"an audience beyond the allowed is invalid_target", with("audience", "https://b.test"), basic(id, sec), 400, "invalid_target"},
		{"a relative resource is invalid_target", with("resource", "/x"), basic(id, sec), 400, "invalid_target"},
		{"an unknown grant is unsupported_grant_type", url.Values{"grant_type": {"password"}}, basic(id, sec), 400, "unsupported_grant_type"},
		{"a missing grant type is invalid_request", url.Values{}, basic(id, sec), 400, "invalid_request"},
		{"a repeated parameter is invalid_request", with("scope", "read", "scope", "read"), basic(id, sec), 400, "invalid_request"},
		{"a JSON body is invalid_request", cc, func(r *http.Request) { basic(id, sec)(r); r.Header.Set("Content-Type", "application/json") }, 400, "invalid_request"},
		{"a bearer header is invalid_client", cc, func(r *http.Request) { r.Header.Set("Authorization", "Bearer x") }, 401, "invalid_client"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := postToken(t, env, tc.form, tc.mutate)
			if r.status != tc.status || r.errCode() != tc.code {
				t.Fatalf("got %d %v, want %d %q", r.status, r.body, tc.status, tc.code)
			}
			if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
				t.Fatalf("cache headers %v", r.header)
			}
			if tc.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
			if tc.status == 200 {
				if r.body["token_type"] != "Bearer" || r.body["expires_in"] != float64(1800) || r.body["access_token"] == "" {
					t.Fatalf("body %v", r.body)
				}
			}
			if tc.code == "invalid_client" && r.body["error_description"] != nil {
				t.Fatalf("invalid_client says why: %v", r.body)
			}
		})
	}
	counts := authCounts(t, env)
	if counts["client_secret_basic/ok"] == 0 || counts["client_secret_post/ok"] == 0 || counts["client_secret_basic/invalid_client"] == 0 {
		t.Fatalf("authentication metrics %v", counts)
	}
}

func authCounts(t *testing.T, env *svcEnv) map[string]float64 {
	t.Helper()
	mfs, err := env.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "authledger_client_authentications_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var method, result string
			for _, l := range m.GetLabel() {
				if l.GetName() == "method" {
					method = l.GetValue()
				} else {
					result = l.GetValue()
				}
			}
			out[method+"/"+result] = m.GetCounter().GetValue()
		}
	}
	return out
}

// assertion builds a private_key_jwt with lestrrat-go/jwx, a JOSE library
// independent of the server's go-jose.
func assertion(t testing.TB, priv ed25519.PrivateKey, kid, iss, sub, aud string, exp time.Time, jti string) string {
	t.Helper()
	tok, err := ljwt.NewBuilder().Issuer(iss).Subject(sub).Audience([]string{aud}).Expiration(exp).IssuedAt(time.Now()).JwtID(jti).Build()
	if err != nil {
		t.Fatal(err)
	}
	// aud as a single string, as RFC 7523bis asks; jwx writes an array
	// unless told.
	tok.Options().Enable(ljwt.FlattenAudience)
	key, err := jwk.FromRaw(priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := key.Set(jwk.KeyIDKey, kid); err != nil {
		t.Fatal(err)
	}
	b, err := ljwt.Sign(tok, ljwt.WithKey(jwa.EdDSA, key))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func newJTI() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func assertionForm(a string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {commands.ClientAssertionType}, "client_assertion": {a}}
}

func TestPrivateKeyJWT(t *testing.T) {
	t.Parallel()
	env := newSvcEnv(t, svcEnvOptions{})
	priv, pub := newEdKey(t)
	otherPriv, _ := newEdKey(t)
	svc := env.register(t, commands.RegisterService{Name: "keyed", Scopes: []string{"read"}, Keys: []client.PublicKey{pub}, NoSecret: true})
	if svc.ClientSecret != "" {
		t.Fatal("a key-only registration returned a secret")
	}
	id := string(svc.Client.ID)
	soon := time.Now().Add(2 * time.Minute)
	replayed := assertion(t, priv, pub.KeyID, id, id, svcIssuer, soon, newJTI())
	withAud := func(aud any) string {
		return rawAssertion(t, priv, pub.KeyID, map[string]any{"iss": id, "sub": id, "aud": aud, "exp": soon.Unix(), "jti": newJTI()})
	}
	cases := []struct {
		name      string
		assertion string
		status    int
	}{
		{"a valid assertion for the issuer gets a token", assertion(t, priv, pub.KeyID, id, id, svcIssuer, soon, newJTI()), 200},
		// RFC 7523bis (audience injection): the issuer as a single string
		// only; the token endpoint URL only behind the compatibility switch.
		{"an assertion for the token endpoint URL is invalid_client", assertion(t, priv, pub.KeyID, id, id, env.tokenURL, soon, newJTI()), 401},
		{"an aud array holding only the issuer is invalid_client", withAud([]string{svcIssuer}), 401},
		{"an aud array holding the issuer and another audience is invalid_client", withAud([]string{"https://elsewhere.test", svcIssuer}), 401},
		{"an aud array holding the token endpoint URL is invalid_client", withAud([]string{env.tokenURL}), 401},
		{"the issuer with a trailing slash is invalid_client", withAud(svcIssuer + "/"), 401},
		{"an assertion without aud is invalid_client", withAud(nil), 401},
		{"an assertion used for the first time is accepted", replayed, 200},
		{"the same assertion replayed is invalid_client", replayed, 401},
		{"an assertion signed by another key is invalid_client", assertion(t, otherPriv, pub.KeyID, id, id, svcIssuer, soon, newJTI()), 401},
		{"an expired assertion is invalid_client", assertion(t, priv, pub.KeyID, id, id, svcIssuer, time.Now().Add(-2*time.Minute), newJTI()), 401},
		{"an assertion for another audience is invalid_client", assertion(t, priv, pub.KeyID, id, id, "https://elsewhere.test/token", soon, newJTI()), 401},
		{"an assertion living longer than 5 minutes is invalid_client", assertion(t, priv, pub.KeyID, id, id, svcIssuer, time.Now().Add(time.Hour), newJTI()), 401},
		{"an assertion whose iss is not the client is invalid_client", assertion(t, priv, pub.KeyID, "someone", id, svcIssuer, soon, newJTI()), 401},
		{"an assertion with an unknown kid is invalid_client", assertion(t, priv, "other-kid", id, id, svcIssuer, soon, newJTI()), 401},
		{"an assertion with the RFC 9864 Ed25519 alg gets a token", ed25519Assertion(t, priv, pub.KeyID, id, svcIssuer, soon), 200},
		{"an Ed25519 assertion with an aud array is invalid_client", ed25519AssertionAud(t, priv, pub.KeyID, id, []string{svcIssuer}, soon), 401},
		{"an unsigned assertion is invalid_client", noneAssertion(id, svcIssuer, soon), 401},
		{"garbage is invalid_client", "a.b.c", 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := postToken(t, env, assertionForm(tc.assertion), nil)
			if r.status != tc.status {
				t.Fatalf("got %d %v, want %d", r.status, r.body, tc.status)
			}
			if tc.status == 401 && r.errCode() != "invalid_client" {
				t.Fatalf("error %q, want invalid_client", r.errCode())
			}
		})
	}
	t.Run("a secret is not accepted for a key-only client", func(t *testing.T) {
		if r := postToken(t, env, url.Values{"grant_type": {"client_credentials"}}, basic(id, "")); r.status != 401 {
			t.Fatalf("got %d", r.status)
		}
	})
}

// rawAssertion signs claims as they are (EdDSA, go-jose), so a test can
// send an aud of any JSON shape.
func rawAssertion(t testing.TB, priv ed25519.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: priv}, (&jose.SignerOptions{}).WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := sg.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestPrivateKeyJWTTokenEndpointAudienceCompatibilitySwitch(t *testing.T) {
	t.Parallel()
	env := newSvcEnv(t, svcEnvOptions{acceptTokenEndpointAud: true})
	priv, pub := newEdKey(t)
	id := string(env.register(t, commands.RegisterService{Name: "legacy", Scopes: []string{"read"}, Keys: []client.PublicKey{pub}, NoSecret: true}).Client.ID)
	soon := time.Now().Add(2 * time.Minute)
	withAud := func(aud any) string {
		return rawAssertion(t, priv, pub.KeyID, map[string]any{"iss": id, "sub": id, "aud": aud, "exp": soon.Unix(), "jti": newJTI()})
	}
	cases := []struct {
		name      string
		assertion string
		status    int
	}{
		{"switched on, the token endpoint URL as a single string gets a token", withAud(env.tokenURL), 200},
		{"the issuer still gets a token", withAud(svcIssuer), 200},
		{"the token endpoint URL in an array is still invalid_client", withAud([]string{env.tokenURL}), 401},
		{"an array of both is still invalid_client", withAud([]string{env.tokenURL, svcIssuer}), 401},
		{"another URL is still invalid_client", withAud(env.tokenURL + "/"), 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if r := postToken(t, env, assertionForm(tc.assertion), nil); r.status != tc.status {
				t.Fatalf("got %d %v, want %d", r.status, r.body, tc.status)
			}
		})
	}
}

func ed25519Assertion(t testing.TB, priv ed25519.PrivateKey, kid, id, aud string, exp time.Time) string {
	t.Helper()
	return ed25519AssertionAud(t, priv, kid, id, aud, exp)
}

func ed25519AssertionAud(t testing.TB, priv ed25519.PrivateKey, kid, id string, aud any, exp time.Time) string {
	t.Helper()
	h, _ := json.Marshal(map[string]string{"alg": "Ed25519", "typ": "JWT", "kid": kid})
	p, _ := json.Marshal(map[string]any{"iss": id, "sub": id, "aud": aud, "exp": exp.Unix(), "iat": time.Now().Unix(), "jti": newJTI()})
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(priv, []byte(in)))
}

func noneAssertion(id, aud string, exp time.Time) string {
	h, _ := json.Marshal(map[string]string{"alg": "none"})
	p, _ := json.Marshal(map[string]any{"iss": id, "sub": id, "aud": aud, "exp": exp.Unix(), "jti": newJTI()})
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

func TestSecretRotationAndDisable(t *testing.T) {
	t.Parallel()
	env := newSvcEnv(t, svcEnvOptions{})
	svc := env.register(t, commands.RegisterService{Name: "rot", Scopes: []string{"read"}})
	id, first := string(svc.Client.ID), svc.ClientSecret
	cc := url.Values{"grant_type": {"client_credentials"}}
	status := func(secret string) int { return postToken(t, env, cc, basic(id, secret)).status }

	rot, err := env.cmds.RotateSecret(context.Background(), commands.RotateSecret{ClientID: svc.Client.ID, Window: time.Hour}, commands.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	env.settle(t, rot.Position)
	if status(first) != 200 || status(rot.ClientSecret) != 200 {
		t.Fatal("during the rotation window both secrets must work")
	}
	rot2, err := env.cmds.RotateSecret(context.Background(), commands.RotateSecret{ClientID: svc.Client.ID, Immediately: true}, commands.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	env.settle(t, rot2.Position)
	if status(first) != 401 || status(rot.ClientSecret) != 401 || status(rot2.ClientSecret) != 200 {
		t.Fatal("an immediate rotation must end every older secret at once")
	}
	dis, err := env.cmds.Disable(context.Background(), commands.DisableService{ClientID: svc.Client.ID, Reason: "test"}, commands.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	env.settle(t, dis.Position)
	if status(rot2.ClientSecret) != 401 {
		t.Fatal("a disabled service still gets tokens")
	}
}

func TestFailedAuthenticationBurstIsRateLimited(t *testing.T) {
	t.Parallel()
	env := newSvcEnv(t, svcEnvOptions{limits: ratelimit.New(ratelimit.DefaultLimits())})
	svc := env.register(t, commands.RegisterService{Name: "victim", Scopes: []string{"read"}})
	cc := url.Values{"grant_type": {"client_credentials"}}
	var unauthorized, limited int
	for range 300 {
		r := postToken(t, env, cc, basic(string(svc.Client.ID), "guess"))
		switch r.status {
		case 401:
			unauthorized++
		case 429:
			limited++
			if r.errCode() != "slow_down" || r.header.Get("Retry-After") == "" {
				t.Fatalf("429 answer %v %v", r.body, r.header)
			}
		default:
			t.Fatalf("status %d", r.status)
		}
	}
	if unauthorized > 40 || limited < 260 {
		t.Fatalf("%d wrong-secret answers and %d limited; the burst was not stopped", unauthorized, limited)
	}
}

func TestAdminServicesAPI(t *testing.T) {
	t.Parallel()
	env := newSvcEnv(t, svcEnvOptions{})
	admin := env.register(t, commands.RegisterService{Name: "ops", Scopes: []string{api.ServicesAdminScope}})
	plain := env.register(t, commands.RegisterService{Name: "plain", Scopes: []string{"read"}})
	tokenFor := func(s commands.RegisteredService) string {
		cfg := clientcredentials.Config{ClientID: string(s.Client.ID), ClientSecret: s.ClientSecret, TokenURL: env.tokenURL}
		tok, err := cfg.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	adminTok, plainTok := tokenFor(admin), tokenFor(plain)
	call := func(method, path, bearer, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, env.srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if st, _ := call("GET", "/v1/admin/services", "", ""); st != 401 {
		t.Fatalf("no token: %d", st)
	}
	if st, _ := call("GET", "/v1/admin/services", "garbage", ""); st != 401 {
		t.Fatalf("bad token: %d", st)
	}
	if st, _ := call("GET", "/v1/admin/services", plainTok, ""); st != 403 {
		t.Fatalf("token without services:admin: %d", st)
	}
	st, created := call("POST", "/v1/admin/services", adminTok, `{"name":"new","scopes":["x"],"audiences":["https://n.test"]}`)
	if st != 201 || created["client_secret"] == nil {
		t.Fatalf("register: %d %v", st, created)
	}
	newID := created["client_id"].(string)
	if st, shown := call("GET", "/v1/admin/services/"+newID, adminTok, ""); st != 200 || shown["client_secret"] != nil || shown["name"] != "new" {
		t.Fatalf("show: %d %v", st, shown)
	} else if b, _ := json.Marshal(shown); strings.Contains(string(b), "hash") {
		t.Fatalf("show leaks a hash: %s", b)
	}
	// The new client can use its secret at once: the registry was awaited.
	if r := postToken(t, env, url.Values{"grant_type": {"client_credentials"}}, basic(newID, created["client_secret"].(string))); r.status != 200 {
		t.Fatalf("new client token: %d %v", r.status, r.body)
	}
	if st, rot := call("POST", "/v1/admin/services/"+newID+"/rotate-secret", adminTok, `{"immediately":true}`); st != 200 || rot["client_secret"] == nil {
		t.Fatalf("rotate: %d %v", st, rot)
	}
	_, pub := newEdKey(t)
	jwkBody, _ := json.Marshal(pub)
	if st, out := call("POST", "/v1/admin/services/"+newID+"/keys", adminTok, string(jwkBody)); st != 200 {
		t.Fatalf("add key: %d %v", st, out)
	}
	if st, out := call("POST", "/v1/admin/services/"+newID+"/keys", adminTok, `{"kty":"OKP","crv":"Ed25519","x":"`+pub.X+`","d":"AAAA"}`); st != 400 {
		t.Fatalf("private key: %d %v", st, out)
	}
	if st, out := call("POST", "/v1/admin/services/"+newID+"/disable", adminTok, `{"reason":"done"}`); st != 200 || out["disabled"] != true {
		t.Fatalf("disable: %d %v", st, out)
	}
	if st, _ := call("GET", "/v1/admin/services/svc-missing", adminTok, ""); st != 404 {
		t.Fatalf("unknown service: %d", st)
	}
	if st, out := call("GET", "/v1/admin/services", adminTok, ""); st != 200 || len(out["services"].([]any)) != 3 {
		t.Fatalf("list: %d %v", st, out)
	}
	// Disabling the admin client ends its admin power though its token
	// has not expired.
	dis, err := env.cmds.Disable(context.Background(), commands.DisableService{ClientID: admin.Client.ID}, commands.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	env.settle(t, dis.Position)
	if st, _ := call("GET", "/v1/admin/services", adminTok, ""); st != 401 {
		t.Fatalf("a disabled admin's token: %d", st)
	}
}
