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

// Bodies two JSON parsers can read differently: a filter in front that
// keeps the first duplicate would see subject "u", encoding/json sees "v".
var ambiguousBodies = []struct{ name, body, field string }{
	{"a duplicate key", `{"subject":"u","subject":"v","amr":["webauthn"],"acr":"aal1"}`, "subject"},
	{"a case-variant key", `{"Subject":"v","amr":["webauthn"],"acr":"aal1"}`, "Subject"},
	{"a case variant beside the key", `{"subject":"u","SUBJECT":"v","amr":["webauthn"],"acr":"aal1"}`, "SUBJECT"},
	{"trailing data", `{"subject":"u","amr":["webauthn"],"acr":"aal1"}{"subject":"v"}`, ""},
	{"an unknown field", `{"subject":"u","amr":["webauthn"],"acr":"aal1","admin":true}`, "admin"},
}

func TestSessionBodiesAreParsedStrictly(t *testing.T) {
	t.Parallel()
	e := newTokEnv(t, tokEnvOpts{})
	tok := e.m2m(t, e.login, api.SessionsCreateScope)
	for _, tc := range ambiguousBodies {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := e.store.Head(context.Background())
			r := e.do(t, nil, http.MethodPost, "/v1/sessions", strings.NewReader(tc.body),
				map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"})
			if r.status != http.StatusBadRequest || r.body["type"] != api.ProblemTypeBase+"invalid-request" ||
				!strings.HasPrefix(r.header.Get("Content-Type"), "application/problem+json") {
				t.Fatalf("%s: %d %s, want 400 invalid-request problem", tc.body, r.status, r.raw)
			}
			if tc.field != "" && !strings.Contains(r.raw, `\"`+tc.field+`\"`) {
				t.Fatalf("the problem does not name %q: %s", tc.field, r.raw)
			}
			if r.body["session_token"] != nil || r.header.Get("Set-Cookie") != "" {
				t.Fatalf("a session was started: %s", r.raw)
			}
			if after, _ := e.store.Head(context.Background()); after.Position != before.Position {
				t.Fatalf("the ledger moved from %d to %d", before.Position, after.Position)
			}
		})
	}
}

func TestAdminServiceBodiesAreParsedStrictly(t *testing.T) {
	t.Parallel()
	env := newSvcEnv(t, svcEnvOptions{})
	admin := env.register(t, commands.RegisterService{Name: "ops", Scopes: []string{api.ServicesAdminScope}})
	cfg := clientcredentials.Config{ClientID: string(admin.Client.ID), ClientSecret: admin.ClientSecret, TokenURL: env.tokenURL}
	tok, err := cfg.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, path, body, field string }{
		{"a duplicate name", "/v1/admin/services", `{"name":"a","name":"b","scopes":["x"]}`, "name"},
		{"a duplicate scope list", "/v1/admin/services", `{"name":"a","scopes":["x"],"scopes":["services:admin"]}`, "scopes"},
		{"a case-variant key", "/v1/admin/services", `{"name":"a","Scopes":["services:admin"]}`, "Scopes"},
		{"trailing data", "/v1/admin/services", `{"name":"a","scopes":["x"]} {"name":"b"}`, ""},
		{"a duplicate key inside a JWK", "/v1/admin/services", `{"name":"a","jwks":{"kty":"OKP","crv":"Ed25519","x":"AAAA","x":"BBBB"}}`, "x"},
		{"a duplicate rotation flag", "/v1/admin/services/" + string(admin.Client.ID) + "/rotate-secret", `{"immediately":false,"immediately":true}`, "immediately"},
		{"a case-variant disable reason", "/v1/admin/services/" + string(admin.Client.ID) + "/disable", `{"Reason":"x"}`, "Reason"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := env.store.Head(context.Background())
			req, _ := http.NewRequest(http.MethodPost, env.srv.URL+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var p api.Problem
			_ = json.NewDecoder(resp.Body).Decode(&p)
			if resp.StatusCode != http.StatusBadRequest || p.Type != api.ProblemTypeBase+"invalid-body" {
				t.Fatalf("%s: %d %+v, want 400 invalid-body", tc.body, resp.StatusCode, p)
			}
			if tc.field != "" && !strings.Contains(p.Detail, `"`+tc.field+`"`) {
				t.Fatalf("the problem does not name %q: %+v", tc.field, p)
			}
			if after, _ := env.store.Head(context.Background()); after.Position != before.Position {
				t.Fatalf("the ledger moved from %d to %d", before.Position, after.Position)
			}
		})
	}
}
