package security_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// Issue 10 item 3 on the real binary: once a client is disabled (here by
// the CLI, against the running server's store), its still-unexpired token
// is refused by every /v1 API, introspects inactive, and the revocation
// feed carries the client for stateless verifiers.
func TestADisabledClientsLiveTokenLosesEveryPower(t *testing.T) {
	t.Parallel()
	srv := e2eharness.Start(t, realBinary(t), e2eharness.Options{Env: map[string]string{"AUTHLEDGER_ISSUER": "https://auth.security.test"}})
	ops := binRegister(t, srv, "--name", "ops", "--scopes", "projections:admin audit:read")
	rs := binRegister(t, srv, "--name", "orders-api", "--scopes", "introspect:any")
	tok := binM2M(t, srv, ops, "projections:admin audit:read")
	binM2M(t, srv, rs, "introspect:any") // the server knows rs too

	for _, p := range []string{"/v1/admin/projections", "/v1/audit/checkpoint"} {
		if r := binBearer(t, srv, http.MethodGet, p, tok, ""); r.status != http.StatusOK {
			t.Fatalf("GET %s before the disable: %d %s", p, r.status, r.raw)
		}
	}
	if r := binForm(t, srv, "/oauth2/introspect", rs, url.Values{"token": {tok}}); r.body["active"] != true {
		t.Fatalf("introspection before the disable: %s", r.raw)
	}

	if res := srv.CLI("services", "disable", ops.ClientID, "--reason", "compromised"); res.Code != 0 {
		t.Fatalf("services disable: exit %d: %s", res.Code, res.Stderr)
	}
	// The server learns of the CLI's write through its ledger feed.
	deadline := time.Now().Add(15 * time.Second)
	for binBearer(t, srv, http.MethodGet, "/v1/admin/projections", tok, "").status != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatal("GET /v1/admin/projections still accepts the disabled client's token 15 s after the disable")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, p := range []string{"/v1/admin/projections", "/v1/audit/checkpoint"} {
		r := binBearer(t, srv, http.MethodGet, p, tok, "")
		if r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token") {
			t.Errorf("GET %s with the disabled client's token: %d %s, want 401 invalid_token", p, r.status, r.raw)
		}
	}
	if r := binForm(t, srv, "/oauth2/introspect", rs, url.Values{"token": {tok}}); r.raw != `{"active":false}`+"\n" {
		t.Errorf("introspection after the disable: %q, want {\"active\":false}", r.raw)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.BaseURL+"/v1/revocations?after=0", nil)
	if r := binDo(t, req); r.status != http.StatusOK || !strings.Contains(r.raw, `"type":"client","id":"`+ops.ClientID+`"`) {
		t.Errorf("revocation feed: %d %s, want a client entry for %s", r.status, r.raw, ops.ClientID)
	}
}
