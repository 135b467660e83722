package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/commands"
)

// A registration may carry the client's own rate limit: it is recorded,
// shown back, and bounded; an unknown member in it is refused.
func TestAdminRegisterRecordsARateLimit(t *testing.T) {
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
	st, out, raw := call("POST", "/v1/admin/services", `{"name":"rs","scopes":["x"],"rate_limit":{"per_second":5000,"burst":10000}}`)
	if st != 201 || out.RateLimit == nil || out.RateLimit.PerSecond != 5000 || out.RateLimit.Burst != 10000 {
		t.Fatalf("register: %d %s", st, raw)
	}
	if st, shown, raw := call("GET", "/v1/admin/services/"+out.ClientID, ""); st != 200 || shown.RateLimit == nil || *shown.RateLimit != *out.RateLimit {
		t.Fatalf("show: %d %s", st, raw)
	}
	if st, _, raw := call("POST", "/v1/admin/services", `{"name":"plain","scopes":["x"]}`); st != 201 || strings.Contains(raw, "rate_limit") {
		t.Fatalf("a registration without a rate limit: %d %s", st, raw)
	}
	for _, body := range []string{
		`{"name":"z","scopes":["x"],"rate_limit":{"per_second":0,"burst":10}}`,
		`{"name":"z","scopes":["x"],"rate_limit":{"per_second":2000000,"burst":10}}`,
		`{"name":"z","scopes":["x"],"rate_limit":{"per_second":10,"burst":10,"unlimited":true}}`,
	} {
		if st, _, raw := call("POST", "/v1/admin/services", body); st != http.StatusBadRequest {
			t.Fatalf("%s: %d %s, want 400", body, st, raw)
		}
	}
}
