package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// TestRateLimitsAreConfigurableGloballyPerClassAndPerClient runs the
// binary with a tiny default budget (1/s, burst 3), a larger one for
// introspection (burst 8), and one client registered with its own rate:
// each budget refuses past its burst, and only there. Admissions are
// bounded by burst + rate × elapsed, so the assertions hold however slow
// the machine is.
func TestRateLimitsAreConfigurableGloballyPerClassAndPerClient(t *testing.T) {
	t.Parallel()
	srv := e2eharness.Start(t, bin, e2eharness.Options{Env: map[string]string{
		"AUTHLEDGER_RATE_LIMIT_PER_CLIENT":          "1",
		"AUTHLEDGER_RATE_LIMIT_PER_CLIENT_BURST":    "3",
		"AUTHLEDGER_RATE_LIMIT_INTROSPECTION":       "1",
		"AUTHLEDGER_RATE_LIMIT_INTROSPECTION_BURST": "8",
	}})
	plain := registerService(t, srv, "--name", "plain", "--scopes", "x")
	busy := registerService(t, srv, "--name", "busy", "--scopes", "x", "--rate-limit", "1000", "--rate-burst", "1000")
	var shown struct {
		RateLimit *struct {
			PerSecond int `json:"per_second"`
			Burst     int `json:"burst"`
		} `json:"rate_limit"`
	}
	if r := srv.CLI("services", "show", busy.ClientID); r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &shown) != nil ||
		shown.RateLimit == nil || shown.RateLimit.PerSecond != 1000 || shown.RateLimit.Burst != 1000 {
		t.Fatalf("services show: exit %d %s", r.Code, r.Stdout)
	}
	if r := srv.CLI("services", "register", "--name", "bad", "--scopes", "x", "--rate-limit", "-5"); r.Code != 2 {
		t.Fatalf("a negative --rate-limit: exit %d, want 2", r.Code)
	}

	// One token each (the server learns of the clients from the feed; a
	// refused attempt costs the failure budget only).
	tokens := map[string]string{}
	for _, c := range []registered{plain, busy} {
		eventually(t, "token for "+c.ClientID, func() error {
			code, out := postForm(t, srv.BaseURL, "/oauth2/token", c, url.Values{"grant_type": {"client_credentials"}, "scope": {"x"}})
			if code != 200 {
				return fmt.Errorf("%d %v", code, out)
			}
			tokens[c.ClientID] = out["access_token"].(string)
			return nil
		})
	}
	spend := func(c registered, path string, n int) (ok, limited int, elapsed time.Duration) {
		start := time.Now()
		for range n {
			v := url.Values{"token": {tokens[c.ClientID]}}
			if path == "/oauth2/token" {
				v = url.Values{"grant_type": {"client_credentials"}, "scope": {"x"}}
			}
			switch code, out := postForm(t, srv.BaseURL, path, c, v); code {
			case 200:
				ok++
			case 429:
				limited++
			default:
				t.Fatalf("%s: %d %v", path, code, out)
			}
		}
		return ok, limited, time.Since(start)
	}
	within := func(what string, ok, burst int, elapsed time.Duration) {
		t.Helper()
		if bound := burst + int(elapsed.Seconds()) + 1; ok > bound {
			t.Fatalf("%s: %d admitted in %s, bound %d (burst %d at 1/s)", what, ok, elapsed, bound, burst)
		}
	}
	ok, limited, el := spend(plain, "/oauth2/introspect", 30)
	within("plain introspections", ok, 8, el)
	if ok < 8 || limited == 0 {
		t.Fatalf("plain introspections: %d admitted, %d limited; want the class burst of 8 then 429s", ok, limited)
	}
	// The token class has no setting of its own: the per-client budget.
	ok, limited, el = spend(plain, "/oauth2/token", 12)
	within("plain token requests", ok, 3, el)
	if limited == 0 {
		t.Fatal("plain token requests were never limited")
	}
	if ok, limited, _ := spend(busy, "/oauth2/introspect", 30); ok != 30 || limited != 0 {
		t.Fatalf("the client registered with 1000/s: %d admitted, %d limited", ok, limited)
	}
}
