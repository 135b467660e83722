package api_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/client/verifier"
	"github.com/authledger/authledger/commands"
)

// Issue 10 item 3: once a client is disabled, every unexpired token naming
// it (client_id) is inactive everywhere at once: introspection, authledger's
// own /v1 APIs, a resource server's verifier with the revocation hook, and
// the revocation feed stateless verifiers follow (RFC 7662 §2.2).
func TestADisabledClientsUnexpiredTokensAreInactiveEverywhere(t *testing.T) {
	t.Parallel()
	e := newTokEnv(t, tokEnvOpts{})
	ctx := context.Background()
	m2m := e.m2m(t, e.login, api.SessionsCreateScope)
	s := e.startSession(t, m2m, "alice")
	if s.status != http.StatusCreated {
		t.Fatalf("start: %d %s", s.status, s.raw)
	}
	userAT := s.body["access_token"].(string) // client_id: the login service
	other := e.m2m(t, e.other, "things:read")
	for name, tok := range map[string]string{"M2M": m2m, "user": userAT} {
		if in := e.form(t, "/oauth2/introspect", e.rs, url.Values{"token": {tok}}); in.body["active"] != true {
			t.Fatalf("%s token before disabling: %s", name, in.raw)
		}
	}

	_, err := e.services.Disable(ctx, commands.DisableService{ClientID: e.login.Client.ID, Reason: "compromised"}, commands.Metadata{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	e.settle(t)

	for name, tok := range map[string]string{"M2M": m2m, "user": userAT} {
		if in := e.form(t, "/oauth2/introspect", e.rs, url.Values{"token": {tok}}); in.raw != `{"active":false}`+"\n" {
			t.Errorf("%s token of the disabled client introspects %s, want {\"active\":false}", name, in.raw)
		}
	}
	// The resource server (aud api) sees the user token; the M2M token is
	// not addressed to it.
	if _, err := e.verifier.Verify(ctx, userAT); !errors.Is(err, verifier.ErrRevoked) {
		t.Errorf("user token of the disabled client: resource-server verifier says %v, want ErrRevoked", err)
	}
	if r := e.do(t, nil, http.MethodGet, "/v1/sessions", nil, map[string]string{"Authorization": "Bearer " + userAT}); r.status != http.StatusUnauthorized {
		t.Errorf("GET /v1/sessions with the disabled client's user token: %d %s, want 401", r.status, r.raw)
	}
	// Other clients are untouched.
	if in := e.form(t, "/oauth2/introspect", e.rs, url.Values{"token": {other}}); in.body["active"] != true {
		t.Errorf("another client's token after the disable: %s", in.raw)
	}
	// The feed carries a client entry for verifiers that follow it.
	r := e.do(t, nil, http.MethodGet, "/v1/revocations?after=0", nil, nil)
	if r.status != http.StatusOK || !strings.Contains(r.raw, `"type":"client","id":"`+string(e.login.Client.ID)+`"`) {
		t.Fatalf("revocation feed: %d %s, want a client entry for %s", r.status, r.raw, e.login.Client.ID)
	}
	var until time.Time
	for _, en := range r.body["entries"].([]any) {
		m := en.(map[string]any)
		if m["type"] == "client" {
			until, _ = time.Parse(time.RFC3339Nano, m["until"].(string))
		}
	}
	if min := time.Now().Add(12 * time.Hour); until.Before(min) {
		t.Fatalf("client entry until %v, want past %v: a session it started may mint tokens for 12 h", until, min)
	}
}
