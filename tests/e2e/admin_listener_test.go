package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// With AUTHLEDGER_ADMIN_LISTEN the admin listener serves everything,
// /metrics, /readyz and /v1/admin/* included, and the public one answers
// those with the 404 of an unrouted path, however the path is spelled.
func TestTheAdminListenerTakesMetricsReadinessAndAdminOffThePublicOne(t *testing.T) {
	t.Parallel()
	adminAddr, err := e2eharness.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	admin := "http://" + adminAddr
	srv := e2eharness.Start(t, bin, e2eharness.Options{Env: map[string]string{"AUTHLEDGER_ADMIN_LISTEN": adminAddr}, ReadyBaseURL: admin})
	hc := &http.Client{Timeout: 10 * time.Second}
	status := func(base, path string) (int, string) {
		t.Helper()
		resp, err := hc.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s%s: %v", base, path, err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Content-Type")
	}
	cases := []struct {
		name, base, path string
		want             int
	}{
		{"the admin listener serves metrics", admin, "/metrics", 200},
		{"the admin listener serves readiness", admin, "/readyz", 200},
		{"the admin listener routes the admin API (which wants a token)", admin, "/v1/admin/services", 401},
		{"the admin listener refuses nothing else either", admin, "/.well-known/jwks.json", 200},
		{"the public listener still serves liveness", srv.BaseURL, "/healthz", 200},
		{"the public listener still serves the JWKS", srv.BaseURL, "/.well-known/jwks.json", 200},
		{"the public listener still serves the revocation feed", srv.BaseURL, "/v1/revocations?after=0", 200},
		{"the public listener refuses metrics", srv.BaseURL, "/metrics", 404},
		{"the public listener refuses readiness", srv.BaseURL, "/readyz", 404},
		{"the public listener refuses the admin API", srv.BaseURL, "/v1/admin/services", 404},
		{"the public listener refuses the admin projections", srv.BaseURL, "/v1/admin/projections", 404},
		{"an escaped spelling is refused too", srv.BaseURL, "/v1/%61dmin/services", 404},
		{"a dotted spelling is refused too", srv.BaseURL, "/v1/x/../admin/services", 404},
		{"a trailing slash is refused too", srv.BaseURL, "/metrics/", 404},
	}
	for _, tc := range cases {
		code, ct := status(tc.base, tc.path)
		if code != tc.want {
			t.Errorf("%s: GET %s answered %d, want %d", tc.name, tc.path, code, tc.want)
		}
		if tc.want == 404 && !strings.HasPrefix(ct, "application/problem+json") {
			t.Errorf("%s: a 404 of %s", tc.name, ct)
		}
	}
	code, err := srv.Stop()
	if err != nil || code != 0 {
		t.Fatalf("stop with two listeners: exit %d, %v", code, err)
	}
}

// Without it, one listener serves everything, as before.
func TestWithoutAnAdminListenerThePublicOneServesMetricsAndReadiness(t *testing.T) {
	t.Parallel()
	srv := e2eharness.Start(t, bin, e2eharness.Options{})
	for _, p := range []string{"/metrics", "/readyz"} {
		resp, err := srv.Get(p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
	}
}
