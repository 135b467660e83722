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

// RFC 7662 §4: introspection tells a caller about a token only when the
// caller is the token's client, one of its audiences (its client id in the
// token's aud), or a resource server holding scope introspect:any. Anyone
// else gets exactly {"active":false}.
func TestIntrospectionDisclosesOnlyToEntitledCallers(t *testing.T) {
	t.Parallel()
	e := newTokEnv(t, tokEnvOpts{})
	ctx := context.Background()
	register := func(cmd commands.RegisterService) commands.RegisteredService {
		t.Helper()
		r, err := e.services.Register(ctx, cmd, commands.Metadata{Actor: "test"})
		if err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := e.registry.WaitFor(wctx, r.Position); err != nil {
			t.Fatal(err)
		}
		return r
	}
	target := register(commands.RegisterService{Name: "api-b", Scopes: []string{"b:read"}})
	caller := register(commands.RegisterService{Name: "caller-a", Scopes: []string{"b:read"}, Audiences: []string{string(target.Client.ID)}})

	s := e.startSession(t, e.m2m(t, e.login, api.SessionsCreateScope), "alice")
	if s.status != http.StatusCreated {
		t.Fatalf("start: %d %s", s.status, s.raw)
	}
	userAT, userRT := s.body["access_token"].(string), s.body["refresh_token"].(string)
	m := e.form(t, "/oauth2/token", caller, url.Values{"grant_type": {"client_credentials"}, "audience": {string(target.Client.ID)}})
	if m.status != http.StatusOK {
		t.Fatalf("client_credentials: %d %s", m.status, m.raw)
	}
	m2mAT := m.body["access_token"].(string)

	active := func(name string, as commands.RegisteredService, tok, wantSub string) {
		t.Helper()
		in := e.form(t, "/oauth2/introspect", as, url.Values{"token": {tok}})
		if in.status != http.StatusOK || in.body["active"] != true || in.body["sub"] != wantSub {
			t.Errorf("%s: %d %s, want active with sub %s", name, in.status, in.raw, wantSub)
		}
	}
	inactive := func(name string, as commands.RegisteredService, tok string) {
		t.Helper()
		in := e.form(t, "/oauth2/introspect", as, url.Values{"token": {tok}})
		if in.status != http.StatusOK || in.raw != `{"active":false}`+"\n" {
			t.Errorf("%s: %d %q, want exactly {\"active\":false}", name, in.status, in.raw)
		}
	}
	active("the user token's own client", e.login, userAT, "alice")
	active("a resource server with introspect:any, on a user token", e.rs, userAT, "alice")
	inactive("an unrelated client, on a user token", e.other, userAT)
	inactive("a client named in no aud, on a user token", target, userAT)

	active("the M2M token's own client", caller, m2mAT, string(caller.Client.ID))
	active("the M2M token's audience", target, m2mAT, string(caller.Client.ID))
	active("a resource server with introspect:any, on an M2M token", e.rs, m2mAT, string(caller.Client.ID))
	inactive("an unrelated client, on an M2M token", e.other, m2mAT)
	inactive("the login service, on another client's M2M token", e.login, m2mAT)

	// Refresh tokens answer only their own client, introspect:any or not.
	active("the refresh token's own client", e.login, userRT, "alice")
	inactive("a resource server with introspect:any, on a refresh token", e.rs, userRT)
	inactive("an unrelated client, on a refresh token", e.other, userRT)
}
