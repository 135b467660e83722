package ops

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authledger/authledger/internal/redistest"
	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// The real binary behind an https issuer: security headers on successes
// and on errors alike, no-store on token answers, and a failed
// authentication's secret never in the JSON log, which carries the
// request id.
func TestTheBinaryHardensEveryAnswerAndLogsNoSecret(t *testing.T) {
	t.Parallel()
	srv := e2eharness.Start(t, bin, e2eharness.Options{Env: map[string]string{"AUTHLEDGER_ISSUER": "https://auth.ops.test"}})
	const wrong = "wrong-secret-that-must-not-be-logged"
	code, _ := tokenRequest(t, srv, "svc-nobody", wrong)
	if code != http.StatusUnauthorized {
		t.Fatalf("unknown client answered %d", code)
	}
	for _, c := range []struct {
		method, path string
		noStore      bool
	}{
		{http.MethodGet, "/.well-known/jwks.json", false},
		{http.MethodGet, "/.well-known/oauth-authorization-server", false},
		{http.MethodGet, "/openapi.json", false},
		{http.MethodGet, "/nowhere", false},
		{http.MethodPost, "/oauth2/token", true},
		{http.MethodPost, "/oauth2/introspect", true},
		{http.MethodPost, "/v1/sessions", true},
	} {
		req, _ := http.NewRequest(c.method, srv.BaseURL+c.path, strings.NewReader("x=1"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
			"Content-Security-Policy": "frame-ancestors 'none'"} {
			if h.Get(k) != v {
				t.Errorf("%s %s (%d): %s = %q, want %q", c.method, c.path, resp.StatusCode, k, h.Get(k), v)
			}
		}
		if !strings.HasPrefix(h.Get("Strict-Transport-Security"), "max-age=") {
			t.Errorf("%s %s: no HSTS behind an https issuer", c.method, c.path)
		}
		if got := h.Get("Cache-Control") == "no-store"; got != c.noStore {
			t.Errorf("%s %s: Cache-Control %q", c.method, c.path, h.Get("Cache-Control"))
		}
	}
	if code, _ := srv.Stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
	logs := srv.Logs()
	if strings.Contains(logs, wrong) {
		t.Fatalf("the presented secret reached the log:\n%s", logs)
	}
	sawRefusal := false
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if rec["msg"] == "oauth request refused" {
			sawRefusal = true
			if rid, _ := rec["request_id"].(string); rid == "" {
				t.Errorf("refusal logged without a request id: %s", line)
			}
		}
	}
	if !sawRefusal {
		t.Errorf("the refused authentication was not logged:\n%s", logs)
	}
}

// With Redis frozen the rate limits fall back to the in-process buckets:
// a burst of failed authentications for one client is still stopped.
func TestFailedAuthenticationsAreStillLimitedWhileRedisIsFrozen(t *testing.T) {
	t.Parallel()
	redis := redistest.Start(t)
	srv := e2eharness.Start(t, bin, e2eharness.Options{Env: map[string]string{"AUTHLEDGER_REDIS_URL": redis.URL(0)}})
	redis.Freeze()
	defer redis.Resume()
	counts := map[int]int{}
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; i < 1000 && time.Now().Before(deadline); i++ {
		code, _ := tokenRequest(t, srv, "svc-target", "guess")
		counts[code]++
		if code == http.StatusTooManyRequests {
			break
		}
	}
	t.Logf("answers by status while Redis was frozen: %v", counts)
	if counts[http.StatusTooManyRequests] == 0 {
		t.Fatalf("no 429 in a burst of failed authentications with Redis frozen: %v", counts)
	}
	if counts[http.StatusUnauthorized] == 0 {
		t.Fatalf("the first failures were not 401: %v", counts)
	}
}
