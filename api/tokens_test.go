package api_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/client/verifier"
	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/sessionstore"
)

func TestSessionStartOverHTTP(t *testing.T) {
	t.Parallel()
	e := newTokEnv(t, tokEnvOpts{})
	t.Run("a login service with sessions:create starts a session", func(t *testing.T) {
		r := e.startSession(t, e.m2m(t, e.login, api.SessionsCreateScope), "alice")
		if r.status != http.StatusCreated {
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
		for _, f := range []string{"session_token", "session_id", "access_token", "refresh_token", "token_type"} {
			if s, _ := r.body[f].(string); s == "" {
				t.Errorf("field %s missing", f)
			}
		}
		if r.body["expires_in"] != float64(600) {
			t.Errorf("expires_in = %v, want the access token's 600", r.body["expires_in"])
		}
		if r.header.Get("Cache-Control") != "no-store" {
			t.Error("the token response may be cached")
		}
		ck := r.header.Get("Set-Cookie")
		for _, attr := range []string{api.SessionCookie + "=" + r.body["session_token"].(string), "Path=/", "HttpOnly", "Secure", "SameSite=Lax"} {
			if !strings.Contains(ck, attr) {
				t.Errorf("Set-Cookie %q lacks %s", ck, attr)
			}
		}
		if strings.Contains(ck, "Domain=") {
			t.Error("a __Host- cookie must not carry Domain")
		}
		c, err := e.verifier.Verify(context.Background(), r.body["access_token"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if c.ClientID != string(e.login.Client.ID) || c.Subject != "alice" || c.SessionID != r.body["session_id"] {
			t.Fatalf("access token claims %+v", c)
		}
	})
	t.Run("a client without sessions:create is refused", func(t *testing.T) {
		r := e.startSession(t, e.m2m(t, e.other, "things:read"), "alice")
		if r.status != http.StatusForbidden || r.header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("status %d %s", r.status, r.raw)
		}
	})
	t.Run("no bearer token is 401", func(t *testing.T) {
		r := e.do(t, nil, http.MethodPost, "/v1/sessions", strings.NewReader(`{"subject":"a"}`), map[string]string{"Content-Type": "application/json"})
		if r.status != http.StatusUnauthorized {
			t.Fatalf("status %d", r.status)
		}
	})
	t.Run("a body without subject is 400 naming the field", func(t *testing.T) {
		r := e.do(t, nil, http.MethodPost, "/v1/sessions", strings.NewReader(`{"acr":"x"}`),
			map[string]string{"Authorization": "Bearer " + e.m2m(t, e.login, api.SessionsCreateScope), "Content-Type": "application/json"})
		if r.status != http.StatusBadRequest || !strings.Contains(r.raw, `"subject"`) {
			t.Fatalf("status %d %s", r.status, r.raw)
		}
	})
}

func TestReuseDetectionEndToEnd(t *testing.T) {
	t.Parallel()
	e := newTokEnv(t, tokEnvOpts{})
	s := e.startSession(t, e.m2m(t, e.login, api.SessionsCreateScope), "alice")
	rt0 := s.body["refresh_token"].(string)
	r1 := e.form(t, "/oauth2/token", e.login, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt0}})
	if r1.status != 200 || r1.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("refresh: %d %s %v", r1.status, r1.raw, r1.header)
	}
	at1 := r1.body["access_token"].(string)
	if _, err := e.verifier.Verify(context.Background(), at1); err != nil {
		t.Fatalf("fresh access token: %v", err)
	}
	// Another client holding the successor gets nothing and harms nothing.
	if r := e.form(t, "/oauth2/token", e.other, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r1.body["refresh_token"].(string)}}); r.status != 400 || r.body["error"] != "invalid_grant" {
		t.Fatalf("other client: %d %s", r.status, r.raw)
	}
	// The stolen first token comes back.
	r2 := e.form(t, "/oauth2/token", e.login, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt0}})
	if r2.status != 400 || r2.body["error"] != "invalid_grant" || r2.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("reuse: %d %s", r2.status, r2.raw)
	}
	// The legitimate successor dies with the family.
	if r := e.form(t, "/oauth2/token", e.login, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r1.body["refresh_token"].(string)}}); r.body["error"] != "invalid_grant" {
		t.Fatalf("successor after reuse: %d %s", r.status, r.raw)
	}
	e.settle(t)
	for name, at := range map[string]string{"session start": s.body["access_token"].(string), "refresh": at1} {
		in := e.form(t, "/oauth2/introspect", e.rs, url.Values{"token": {at}})
		if in.status != 200 || in.body["active"] != false || len(in.body) != 1 {
			t.Errorf("%s access token introspects %d %s", name, in.status, in.raw)
		}
		if _, err := e.verifier.Verify(context.Background(), at); !errors.Is(err, verifier.ErrRevoked) {
			t.Errorf("%s access token: verifier says %v", name, err)
		}
	}
	feed := e.do(t, nil, http.MethodGet, "/v1/revocations?after=0", nil, nil)
	if feed.status != 200 || !strings.Contains(feed.raw, `"type":"family"`) || !strings.Contains(feed.raw, `"type":"jti"`) {
		t.Fatalf("revocation feed: %d %s", feed.status, feed.raw)
	}
}

func TestRevokeAndIntrospectNeedClientAuthentication(t *testing.T) {
	t.Parallel()
	e := newTokEnv(t, tokEnvOpts{})
	anon := e.form(t, "/oauth2/introspect", commands.RegisteredService{}, url.Values{"token": {"x"}})
	if anon.status != http.StatusUnauthorized || anon.body["error"] != "invalid_client" {
		t.Fatalf("anonymous introspection: %d %s", anon.status, anon.raw)
	}
	if r := e.form(t, "/oauth2/revoke", commands.RegisteredService{}, url.Values{"token": {"x"}}); r.status != http.StatusUnauthorized {
		t.Fatalf("anonymous revocation: %d %s", r.status, r.raw)
	}
	if r := e.form(t, "/oauth2/revoke", e.login, url.Values{"token": {"never-issued"}, "token_type_hint": {"refresh_token"}}); r.status != 200 {
		t.Fatalf("unknown token: %d %s", r.status, r.raw)
	}
	s := e.startSession(t, e.m2m(t, e.login, api.SessionsCreateScope), "alice")
	at := s.body["access_token"].(string)
	if in := e.form(t, "/oauth2/introspect", e.rs, url.Values{"token": {at}}); in.body["active"] != true || in.body["sub"] != "alice" {
		t.Fatalf("live token: %s", in.raw)
	}
	if r := e.form(t, "/oauth2/revoke", e.login, url.Values{"token": {at}, "token_type_hint": {"access_token"}}); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	e.settle(t)
	if in := e.form(t, "/oauth2/introspect", e.rs, url.Values{"token": {at}}); in.body["active"] != false {
		t.Fatalf("revoked token: %s", in.raw)
	}
	bad := at[:len(at)-3] + "AAA"
	if in := e.form(t, "/oauth2/introspect", e.rs, url.Values{"token": {bad}}); in.body["active"] != false {
		t.Fatalf("bad signature: %s", in.raw)
	}
}

func TestSessionCookieEndpoints(t *testing.T) {
	t.Parallel()
	e := newTokEnv(t, tokEnvOpts{})
	bearer := e.m2m(t, e.login, api.SessionsCreateScope)
	alice := e.startSession(t, bearer, "alice")
	e.startSession(t, bearer, "bob")
	b := e.browser(t, alice.body["session_token"].(string))
	t.Run("the cookie buys an access token from an allowed origin", func(t *testing.T) {
		r := e.do(t, b, http.MethodPost, "/v1/session/token", nil, map[string]string{"Origin": tokOrigin})
		if r.status != 200 || r.body["expires_in"] != float64(600) || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		if r.header.Get("Access-Control-Allow-Origin") != tokOrigin || r.header.Get("Access-Control-Allow-Credentials") != "true" {
			t.Fatalf("CORS headers %v", r.header)
		}
	})
	t.Run("CORS preflight admits only the configured origins", func(t *testing.T) {
		ok := e.do(t, nil, http.MethodOptions, "/v1/session/token", nil, map[string]string{"Origin": tokOrigin, "Access-Control-Request-Method": "POST"})
		if ok.status != http.StatusNoContent || ok.header.Get("Access-Control-Allow-Origin") != tokOrigin || !strings.Contains(ok.header.Get("Access-Control-Allow-Methods"), "POST") {
			t.Fatalf("allowed origin preflight: %d %v", ok.status, ok.header)
		}
		bad := e.do(t, nil, http.MethodOptions, "/v1/session/token", nil, map[string]string{"Origin": "https://evil.test", "Access-Control-Request-Method": "POST"})
		if bad.header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("foreign origin got CORS headers %v", bad.header)
		}
	})
	for name, origin := range map[string]string{"a foreign origin": "https://evil.test", "no origin": ""} {
		t.Run("CSRF: "+name+" is refused", func(t *testing.T) {
			h := map[string]string{}
			if origin != "" {
				h["Origin"] = origin
			}
			r := e.do(t, b, http.MethodPost, "/v1/session/token", nil, h)
			if r.status != http.StatusForbidden || r.header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("%d %s", r.status, r.raw)
			}
		})
	}
	t.Run("listing shows only the caller's own sessions", func(t *testing.T) {
		r := e.do(t, b, http.MethodGet, "/v1/sessions", nil, nil)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		list := r.body["sessions"].([]any)
		if len(list) != 1 || list[0].(map[string]any)["id"] != alice.body["session_id"] || list[0].(map[string]any)["current"] != true {
			t.Fatalf("alice sees %s", r.raw)
		}
	})
	t.Run("step-up rotates the cookie", func(t *testing.T) {
		r := e.do(t, nil, http.MethodPost, "/v1/sessions/"+alice.body["session_id"].(string)+"/elevate", strings.NewReader(`{"acr":"aal2","amr":["webauthn"]}`),
			map[string]string{"Authorization": "Bearer " + bearer, "Content-Type": "application/json"})
		if r.status != 200 || r.body["session_token"] == alice.body["session_token"] {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		if old := e.do(t, b, http.MethodPost, "/v1/session/token", nil, map[string]string{"Origin": tokOrigin}); old.status != http.StatusUnauthorized {
			t.Fatalf("old cookie after step-up: %d %s", old.status, old.raw)
		}
		b = e.browser(t, r.body["session_token"].(string))
	})
	t.Run("ending the session from a foreign origin is refused, from an allowed one works", func(t *testing.T) {
		path := "/v1/sessions/" + alice.body["session_id"].(string)
		if r := e.do(t, b, http.MethodDelete, path, nil, map[string]string{"Origin": "https://evil.test"}); r.status != http.StatusForbidden {
			t.Fatalf("foreign origin: %d", r.status)
		}
		if r := e.do(t, b, http.MethodDelete, path, nil, map[string]string{"Origin": tokOrigin}); r.status != http.StatusNoContent {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		if r := e.do(t, b, http.MethodPost, "/v1/session/token", nil, map[string]string{"Origin": tokOrigin}); r.status != http.StatusUnauthorized {
			t.Fatalf("cookie after end: %d", r.status)
		}
		e.settle(t)
		if _, err := e.verifier.Verify(context.Background(), alice.body["access_token"].(string)); !errors.Is(err, verifier.ErrRevoked) {
			t.Fatalf("session access token after end: %v", err)
		}
	})
}

func TestSessionEndpointsAnswer503WhenRedisIsDown(t *testing.T) {
	t.Parallel()
	sw := &switchableSessions{cur: sessionstore.NewMemory(nil)}
	e := newTokEnv(t, tokEnvOpts{sessions: sw})
	bearer := e.m2m(t, e.login, api.SessionsCreateScope)
	s := e.startSession(t, bearer, "alice")
	if s.status != http.StatusCreated {
		t.Fatalf("start: %d %s", s.status, s.raw)
	}
	sw.set(newDownRedisStore(t))
	checks := map[string]httpResult{
		"start":        e.startSession(t, bearer, "alice"),
		"cookie token": e.do(t, e.browser(t, s.body["session_token"].(string)), http.MethodPost, "/v1/session/token", nil, map[string]string{"Origin": tokOrigin}),
		"list":         e.do(t, nil, http.MethodGet, "/v1/sessions", nil, map[string]string{"Authorization": "Bearer " + s.body["access_token"].(string)}),
		"end":          e.do(t, nil, http.MethodDelete, "/v1/sessions/"+s.body["session_id"].(string), nil, map[string]string{"Authorization": "Bearer " + s.body["access_token"].(string)}),
	}
	for name, r := range checks {
		if r.status != http.StatusServiceUnavailable || r.header.Get("Content-Type") != "application/problem+json" || !strings.Contains(r.raw, "session-store-unavailable") {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}
	// The refresh grant and JWT verification never touch Redis.
	rt := e.form(t, "/oauth2/token", e.login, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.body["refresh_token"].(string)}})
	if rt.status != 200 {
		t.Fatalf("refresh with Redis down: %d %s", rt.status, rt.raw)
	}
	if _, err := e.verifier.Verify(context.Background(), rt.body["access_token"].(string)); err != nil {
		t.Fatalf("verification with Redis down: %v", err)
	}
}

// switchableSessions lets a test take the session store away mid-test.
type switchableSessions struct {
	mu  sync.Mutex
	cur commands.SessionStore
}

func (s *switchableSessions) set(c commands.SessionStore) { s.mu.Lock(); s.cur = c; s.mu.Unlock() }
func (s *switchableSessions) get() commands.SessionStore {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}
func (s *switchableSessions) Create(ctx context.Context, r session.Record, ttl time.Duration) error {
	return s.get().Create(ctx, r, ttl)
}
func (s *switchableSessions) Lookup(ctx context.Context, h string) (session.Record, error) {
	return s.get().Lookup(ctx, h)
}
func (s *switchableSessions) Get(ctx context.Context, id string) (session.Record, error) {
	return s.get().Get(ctx, id)
}
func (s *switchableSessions) Save(ctx context.Context, r session.Record, ttl time.Duration) error {
	return s.get().Save(ctx, r, ttl)
}
func (s *switchableSessions) Touch(ctx context.Context, r session.Record, at time.Time, ttl time.Duration) error {
	return s.get().Touch(ctx, r, at, ttl)
}
func (s *switchableSessions) Delete(ctx context.Context, id string) error {
	return s.get().Delete(ctx, id)
}
func (s *switchableSessions) ListBySubject(ctx context.Context, sub string) ([]session.Record, error) {
	return s.get().ListBySubject(ctx, sub)
}
func (s *switchableSessions) Ping(ctx context.Context) error { return s.get().Ping(ctx) }
