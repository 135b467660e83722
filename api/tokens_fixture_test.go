package api_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/client/verifier"
	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/internal/compose"
	"github.com/authledger/authledger/readmodels/jwks"
	"github.com/authledger/authledger/readmodels/revocations"
	"github.com/authledger/authledger/readmodels/services"
	"github.com/authledger/authledger/replayguard"
	"github.com/authledger/authledger/secrets/local"
	"github.com/authledger/authledger/sessionstore"
	"github.com/authledger/authledger/sessionstore/sessionstoretest"
)

const (
	tokIssuer = "https://auth.tokens.test"
	tokOrigin = "https://app.tokens.test"
)

// tokEnv is the whole token lifecycle over HTTP on the real stack: key
// ring, JWKS model, RFC 9068 signer, service registry with client
// authentication, token endpoint with both grants, sessions, revoke,
// introspect and the revocation feed.
type tokEnv struct {
	store    eventstore.Store
	srv      *httptest.Server
	revs     *revocations.Set
	verifier *verifier.Verifier // a resource server's view, revocation hook on
	login    commands.RegisteredService
	other    commands.RegisteredService
	// rs is a resource server: it holds scope introspect:any, so it may
	// introspect every access token (RFC 7662 §4).
	rs       commands.RegisteredService
	services *commands.Services
	registry *services.Registry
	// uc are the session use cases the server's groups call, for tests
	// that serve more groups over the same stack (me_test.go).
	uc api.SessionUseCases
}

type tokEnvOpts struct {
	sessions commands.SessionStore
	// ledger, when set, wraps the ledger every part uses (a failing store).
	ledger func(eventstore.Store) eventstore.Store
}

func newTokEnv(t testing.TB, o tokEnvOpts) *tokEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var store eventstore.Store = memstore.New(nil)
	if o.ledger != nil {
		store = o.ledger(store)
	}
	sp, err := local.Open(t.TempDir(), local.Options{MasterKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := commands.NewKeys(commands.KeysConfig{Store: store, Secrets: sp})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Rotate(ctx, commands.RotateKeys{Immediately: true}, commands.Metadata{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	model := jwks.New()
	if err := model.Reload(ctx, store); err != nil {
		t.Fatal(err)
	}
	signer, err := commands.NewJWTSigner(commands.JWTSignerConfig{Issuer: tokIssuer, Store: store, Secrets: sp, Keys: model})
	if err != nil {
		t.Fatal(err)
	}
	reg := services.New()
	revs := revocations.New(nil)
	done := make(chan struct{}, 2)
	go func() { _ = reg.Follow(ctx, store); done <- struct{}{} }()
	go func() { _ = revs.Follow(ctx, store); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })

	svcCmds, err := commands.NewServices(commands.ServicesConfig{Store: store, Pepper: testPepper})
	if err != nil {
		t.Fatal(err)
	}
	register := func(name string, scopes []string) commands.RegisteredService {
		r, err := svcCmds.Register(ctx, commands.RegisterService{Name: name, Scopes: scopes}, commands.Metadata{Actor: "test"})
		if err != nil {
			t.Fatal(err)
		}
		wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
		defer wcancel()
		if err := reg.WaitFor(wctx, r.Position); err != nil {
			t.Fatal(err)
		}
		return r
	}
	env := &tokEnv{store: store, revs: revs, services: svcCmds, registry: reg}
	env.login = register("login", []string{api.SessionsCreateScope})
	env.other = register("other", []string{"things:read"})
	env.rs = register("rs", []string{"introspect:any"})

	auth, err := commands.NewClientAuthenticator(commands.ClientAuthConfig{Directory: reg, Pepper: testPepper, Replay: replayguard.NewMemory(nil), Issuer: tokIssuer})
	if err != nil {
		t.Fatal(err)
	}
	clientAuth := api.NewClientAuthenticator(auth, nil)
	cc, err := commands.NewClientCredentialsGrant(commands.ClientCredentialsConfig{Signer: signer, Issuer: tokIssuer})
	if err != nil {
		t.Fatal(err)
	}
	intro, err := verifier.New(verifier.Config{Issuer: tokIssuer, AnyAudience: true, Keys: model})
	if err != nil {
		t.Fatal(err)
	}
	env.verifier, err = verifier.New(verifier.Config{Issuer: tokIssuer, Audiences: []string{"api"}, Keys: model, Revocation: revs})
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, refreshtoken.KeyBytes)
	_, _ = rand.Read(key)
	codec, _ := refreshtoken.NewCodec("r1", map[string][]byte{"r1": key})
	if o.sessions == nil {
		o.sessions = sessionstore.NewMemory(nil)
	}
	rules, err := commands.NewTokenRules(tokIssuer, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := compose.NewTokens(compose.TokenDeps{
		Store: store, Signer: signer, Sealer: commands.NewRefreshSealer(codec, nil), Live: o.sessions,
		Verifier: compose.AccessVerifier(intro), Revocations: revs, Publisher: revs, Rules: rules,
	})
	if err != nil {
		t.Fatal(err)
	}
	env.uc = tok.SessionUseCases()
	te, err := api.NewTokenEndpoint(clientAuth, api.NewClientCredentialsGrant(cc), api.NewRefreshGrant(tok.Refresh))
	if err != nil {
		t.Fatal(err)
	}
	env.srv = httptest.NewServer(api.New(api.Config{}, te,
		api.NewSessions(tok.SessionUseCases(), []string{tokOrigin}, 12*time.Hour).RequireActiveClients(reg), api.NewRevoke(clientAuth, tok.Revoke),
		api.NewIntrospect(clientAuth, tok.Introspector), api.NewRevocations(revs)))
	t.Cleanup(env.srv.Close)
	return env
}

// settle waits until the revocation set has folded the whole ledger.
func (e *tokEnv) settle(t testing.TB) {
	t.Helper()
	head, _ := e.store.Head(context.Background())
	deadline := time.Now().Add(5 * time.Second)
	for e.revs.Applied() < head.Position {
		if time.Now().After(deadline) {
			t.Fatal("revocation set did not catch up")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type httpResult struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (e *tokEnv) do(t testing.TB, c *http.Client, method, path string, body io.Reader, h map[string]string) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	if c == nil {
		c = e.srv.Client()
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := httpResult{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	_ = json.Unmarshal(b, &r.body)
	return r
}

// form posts an OAuth form as client cl (client_secret_basic).
func (e *tokEnv) form(t testing.TB, path string, cl commands.RegisteredService, v url.Values) httpResult {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if cl.ClientSecret != "" {
		req.SetBasicAuth(url.QueryEscape(string(cl.Client.ID)), url.QueryEscape(cl.ClientSecret))
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := httpResult{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	_ = json.Unmarshal(b, &r.body)
	return r
}

// m2m gets the login service's own token (scope sessions:create).
func (e *tokEnv) m2m(t testing.TB, cl commands.RegisteredService, scope string) string {
	t.Helper()
	r := e.form(t, "/oauth2/token", cl, url.Values{"grant_type": {"client_credentials"}, "scope": {scope}})
	if r.status != 200 {
		t.Fatalf("client_credentials: %d %s", r.status, r.raw)
	}
	return r.body["access_token"].(string)
}

// startSession is POST /v1/sessions by the login service.
func (e *tokEnv) startSession(t testing.TB, bearer, subject string) httpResult {
	t.Helper()
	return e.do(t, nil, http.MethodPost, "/v1/sessions", strings.NewReader(`{"subject":"`+subject+`","amr":["webauthn"],"acr":"aal1"}`),
		map[string]string{"Authorization": "Bearer " + bearer, "Content-Type": "application/json"})
}

// browser is an HTTP client with a cookie jar, as a browser on tokOrigin.
func (e *tokEnv) browser(t testing.TB, sessionToken string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(e.srv.URL)
	// httptest serves plain HTTP; the jar would drop a Secure cookie, so
	// the browser's cookie is planted as it would hold it.
	jar.SetCookies(u, []*http.Cookie{{Name: api.SessionCookie, Value: sessionToken, Path: "/"}})
	c := *e.srv.Client()
	c.Jar = jar
	return &c
}

func newDownRedisStore(t testing.TB) commands.SessionStore {
	return sessionstoretest.Down(t)
}
