package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/client"
)

// Every scope authledger's own APIs check is a reserved name.
func TestEveryScopeAuthledgerChecksIsListedAsPrivileged(t *testing.T) {
	t.Parallel()
	for _, s := range []string{api.AuditReadScope, api.SessionsCreateScope, api.ProjectionsAdminScope, api.ServicesAdminScope, "subjects:admin"} {
		if client.PrivilegedScopes[s] == "" {
			t.Errorf("scope %q is not in client.PrivilegedScopes", s)
		}
	}
	for _, a := range []string{"api", "edge"} {
		if client.PrivilegedAudiences[a] == "" {
			t.Errorf("audience %q is not in client.PrivilegedAudiences", a)
		}
	}
}

func TestAdminRegisterSaysWhichGrantsArePrivileged(t *testing.T) {
	t.Parallel()
	env := newSvcEnv(t, svcEnvOptions{})
	admin := env.register(t, commands.RegisterService{Name: "ops", Scopes: []string{api.ServicesAdminScope}})
	cfg := clientcredentials.Config{ClientID: string(admin.Client.ID), ClientSecret: admin.ClientSecret, TokenURL: env.tokenURL}
	tok, err := cfg.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path, body string) (int, api.ServiceResponse, string) {
		req, _ := http.NewRequest(method, env.srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var raw json.RawMessage
		_ = json.NewDecoder(resp.Body).Decode(&raw)
		var out api.ServiceResponse
		_ = json.Unmarshal(raw, &out)
		return resp.StatusCode, out, string(raw)
	}
	st, out, raw := call("POST", "/v1/admin/services", `{"name":"login","scopes":["profile","sessions:create","audit:read"],"audiences":["https://n.test","api"]}`)
	if st != 201 || !slices.Equal(out.Privileged.Scopes, []string{"sessions:create", "audit:read"}) || !slices.Equal(out.Privileged.Audiences, []string{"api"}) {
		t.Fatalf("register: %d %s", st, raw)
	}
	if st, shown, raw := call("GET", "/v1/admin/services/"+out.ClientID, ""); st != 200 || !slices.Equal(shown.Privileged.Scopes, out.Privileged.Scopes) {
		t.Fatalf("show: %d %s", st, raw)
	}
	if st, _, raw := call("POST", "/v1/admin/services", `{"name":"plain","scopes":["profile"]}`); st != 201 || !strings.Contains(raw, `"privileged":{"scopes":[],"audiences":[]}`) {
		t.Fatalf("an unprivileged registration: %d %s", st, raw)
	}
}
