package api_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/commands"
)

func TestADisabledLoginServiceCannotStartSessionsWithItsLiveToken(t *testing.T) {
	t.Parallel()
	e := newTokEnv(t, tokEnvOpts{})
	tok := e.m2m(t, e.login, api.SessionsCreateScope)
	if r := e.startSession(t, tok, "alice"); r.status != http.StatusCreated {
		t.Fatalf("before disabling: %d %s", r.status, r.raw)
	}
	ch, err := e.services.Disable(context.Background(), commands.DisableService{ClientID: e.login.Client.ID, Reason: "compromised"}, commands.Metadata{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.registry.WaitFor(wctx, ch.Position); err != nil {
		t.Fatal(err)
	}
	r := e.startSession(t, tok, "alice") // the token itself is still unexpired
	if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("after disabling: %d %s, want 401 with WWW-Authenticate", r.status, r.raw)
	}
}

func TestIntrospectionTokenTypeOverHTTP(t *testing.T) {
	t.Parallel()
	e := newTokEnv(t, tokEnvOpts{})
	s := e.startSession(t, e.m2m(t, e.login, api.SessionsCreateScope), "alice")
	if s.status != http.StatusCreated {
		t.Fatalf("start: %d %s", s.status, s.raw)
	}
	at := e.form(t, "/oauth2/introspect", e.rs, url.Values{"token": {s.body["access_token"].(string)}})
	if at.body["active"] != true || at.body["token_type"] != "Bearer" {
		t.Fatalf("access token: %s, want token_type Bearer (RFC 7662 §2.2 → RFC 6749 §7.1)", at.raw)
	}
	rt := e.form(t, "/oauth2/introspect", e.login, url.Values{"token": {s.body["refresh_token"].(string)}})
	if _, has := rt.body["token_type"]; rt.body["active"] != true || has {
		t.Fatalf("refresh token: %s, want active without token_type", rt.raw)
	}
}

func TestRefreshReuseLogsTheBrowserOut(t *testing.T) {
	t.Parallel()
	e := newTokEnv(t, tokEnvOpts{})
	s := e.startSession(t, e.m2m(t, e.login, api.SessionsCreateScope), "alice")
	if s.status != http.StatusCreated {
		t.Fatalf("start: %d %s", s.status, s.raw)
	}
	b := e.browser(t, s.body["session_token"].(string))
	if r := e.do(t, b, http.MethodGet, "/v1/sessions", nil, nil); r.status != http.StatusOK {
		t.Fatalf("list before reuse: %d %s", r.status, r.raw)
	}
	rt := s.body["refresh_token"].(string)
	if r := e.form(t, "/oauth2/token", e.login, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}); r.status != 200 {
		t.Fatalf("refresh: %d %s", r.status, r.raw)
	}
	if r := e.form(t, "/oauth2/token", e.login, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}); r.body["error"] != "invalid_grant" {
		t.Fatalf("reuse: %d %s", r.status, r.raw)
	}
	if r := e.do(t, b, http.MethodGet, "/v1/sessions", nil, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("list with the cookie after reuse: %d %s", r.status, r.raw)
	}
	if r := e.do(t, b, http.MethodPost, "/v1/session/token", nil, map[string]string{"Origin": tokOrigin}); r.status != http.StatusUnauthorized {
		t.Fatalf("session token after reuse: %d %s", r.status, r.raw)
	}
}
