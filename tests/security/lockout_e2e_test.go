package security

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

func startRealServer(t *testing.T, env map[string]string) *e2eharness.Server {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	return e2eharness.Start(t, e2eharness.Binary(t), e2eharness.Options{Env: env})
}

type lockoutClient struct {
	ID     string `json:"client_id"`
	Secret string `json:"client_secret"`
}

// tokenRequest is one client_credentials request with Basic credentials,
// as the caller behind the trusted proxy at xff ("" sends no header).
func tokenRequest(srv *e2eharness.Server, id, secret, xff string) (int, http.Header, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, srv.BaseURL+"/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := lockoutHTTP.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body, err
}

var lockoutHTTP = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// attempts sends n requests, par at a time, and counts the answers by
// status; every 429 must be slow_down with Retry-After.
func attempts(t *testing.T, srv *e2eharness.Server, n, par int, id func(i int) string, secret, xff string) map[int]int {
	t.Helper()
	var mu sync.Mutex
	got := map[int]int{}
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			code, h, body, err := tokenRequest(srv, id(i), secret, xff)
			if err != nil {
				t.Error(err)
				return
			}
			if code == http.StatusTooManyRequests && (h.Get("Retry-After") == "" || !strings.Contains(string(body), `"slow_down"`)) {
				t.Errorf("429 without slow_down and Retry-After: %v %s", h, body)
			}
			mu.Lock()
			got[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return got
}

func same(id string) func(int) string { return func(int) string { return id } }

// TestLockoutFloodOnTheRealBinary is issue 10's lockout denial of service
// against `authledger serve` with its default limits (1/s burst 20 per
// client and address, 5/s burst 100 per address), behind a trusted proxy:
// the test's loopback connection is the proxy, X-Forwarded-For names the
// caller. Wrong secrets are slowed within the documented budget; correct
// secrets are never refused, during the flood or after it, for the
// flooded client or another; a malformed X-Forwarded-For is refused with
// 400 and charged to nobody.
func TestLockoutFloodOnTheRealBinary(t *testing.T) {
	t.Parallel()
	srv := startRealServer(t, map[string]string{"AUTHLEDGER_TRUSTED_PROXIES": "127.0.0.0/8"})
	register := func(name string) lockoutClient {
		t.Helper()
		res := srv.CLI("services", "register", "--name", name, "--scopes", "read")
		var c lockoutClient
		if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &c) != nil || c.ID == "" || c.Secret == "" {
			t.Fatalf("services register: exit %d: %s %s", res.Code, res.Stdout, res.Stderr)
		}
		return c
	}
	a, b := register("victim"), register("bystander")
	// The server sees CLI registrations through its ledger feed.
	deadline := time.Now().Add(10 * time.Second)
	for _, c := range []lockoutClient{a, b} {
		for {
			code, _, _, err := tokenRequest(srv, c.ID, c.Secret, "192.0.2.250")
			if err == nil && code == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("client %s never authenticated: %d %v", c.ID, code, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	t.Run("a flood of wrong secrets for A never stops A's or B's correct secret from the same address", func(t *testing.T) {
		const addr = "198.51.100.1"
		start := time.Now()
		var flood, correctA, correctB map[int]int
		var wg sync.WaitGroup
		wg.Go(func() { flood = attempts(t, srv, 300, 50, same(a.ID), "wrong-secret", addr) })
		wg.Go(func() { correctA = attempts(t, srv, 40, 2, same(a.ID), a.Secret, addr) })
		wg.Go(func() { correctB = attempts(t, srv, 40, 2, same(b.ID), b.Secret, addr) })
		wg.Wait()
		floodEnd := time.Now()
		elapsed := floodEnd.Sub(start)
		// The budget refills at 1/s while the flood runs.
		if n := flood[http.StatusUnauthorized]; n < 20 || n > 20+int(elapsed.Seconds())+1 || flood[http.StatusTooManyRequests] != 300-n {
			t.Fatalf("flood answers %v in %v, want 20 (+1/s) invalid_client and the rest 429", flood, elapsed)
		}
		if correctA[http.StatusOK] != 40 || correctB[http.StatusOK] != 40 {
			t.Fatalf("correct secrets during the flood: A %v, B %v; want every one 200", correctA, correctB)
		}
		for _, c := range []lockoutClient{a, b} {
			if code, _, body, err := tokenRequest(srv, c.ID, c.Secret, addr); err != nil || code != http.StatusOK {
				t.Fatalf("client %s's correct secret after the flood: %d %s %v", c.ID, code, body, err)
			}
		}
		// Still slowed: the budget only refills at 1/s since the flood, so
		// a burst of wrong secrets now gets at most that many answers (a
		// busy machine may have taken a second or two since).
		after := attempts(t, srv, 5, 5, same(a.ID), "wrong-secret", addr)
		if n, allowed := after[http.StatusUnauthorized], int(time.Since(floodEnd).Seconds())+1; n > allowed || after[http.StatusTooManyRequests] != 5-n {
			t.Fatalf("the flood is no longer slowed: %v, at most %d invalid_client %v after the flood", after, allowed, time.Since(floodEnd))
		}
	})

	t.Run("a flood naming made-up client ids never stops a real client's correct secret from that address", func(t *testing.T) {
		const addr = "198.51.100.2"
		start := time.Now()
		got := attempts(t, srv, 300, 50, func(i int) string { return fmt.Sprint("ghost-", i) }, "wrong-secret", addr)
		elapsed := time.Since(start)
		if n := got[http.StatusUnauthorized]; n < 100 || n > 100+5*(int(elapsed.Seconds())+1) || got[http.StatusTooManyRequests] != 300-n {
			t.Fatalf("ghost flood answers %v in %v, want 100 (+5/s) invalid_client and the rest 429", got, elapsed)
		}
		for _, c := range []lockoutClient{a, b} {
			if code, _, body, err := tokenRequest(srv, c.ID, c.Secret, addr); err != nil || code != http.StatusOK {
				t.Fatalf("client %s's correct secret after the ghost flood: %d %s %v", c.ID, code, body, err)
			}
		}
	})

	t.Run("a malformed X-Forwarded-For from the trusted proxy is refused with 400 and charged to nobody", func(t *testing.T) {
		for _, xff := range []string{"not-an-address", "203.0.113.9, bogus", "203.0.113.9:4711"} {
			code, _, body, err := tokenRequest(srv, a.ID, "wrong-secret", xff)
			if err != nil || code != http.StatusBadRequest || !strings.Contains(string(body), `"invalid_request"`) {
				t.Fatalf("X-Forwarded-For %q: %d %s %v, want 400 invalid_request", xff, code, body, err)
			}
		}
		got := attempts(t, srv, 30, 10, same(a.ID), "wrong-secret", "garbage")
		if got[http.StatusBadRequest] != 30 {
			t.Fatalf("malformed X-Forwarded-For answers %v, want 30 × 400", got)
		}
		// Had those been charged to the proxy's own address, its budget
		// for A (20) would be spent.
		if got := attempts(t, srv, 20, 1, same(a.ID), "wrong-secret", ""); got[http.StatusUnauthorized] != 20 {
			t.Fatalf("wrong secrets from the proxy itself: %v, want 20 invalid_client: its budget was charged", got)
		}
		req, _ := http.NewRequest(http.MethodGet, srv.BaseURL+"/v1/audit/checkpoint", nil)
		req.Header.Set("X-Forwarded-For", "garbage")
		resp, err := lockoutHTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("/v1 with a malformed X-Forwarded-For: %s %s %s, want 400 problem+json", resp.Status, resp.Header.Get("Content-Type"), body)
		}
	})
}
