package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authledger/authledger/internal/pgtest"
	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

func postForm(t *testing.T, base, path string, cl registered, v url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(cl.ClientID), url.QueryEscape(cl.ClientSecret))
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

// TestRevocationReachesAnotherInstance runs two `serve` processes on one
// PostgreSQL ledger and one Redis, revokes on the first and checks that the
// second stops answering active (logging how long it took; the benchmark
// in tests/perf is what measures propagation).
func TestRevocationReachesAnotherInstance(t *testing.T) {
	t.Parallel()
	shared := t.TempDir()
	env := map[string]string{
		"AUTHLEDGER_STORE":     pgtest.NewDatabase(t),
		"AUTHLEDGER_REDIS_URL": "redis://127.0.0.1:6379/11",
		"AUTHLEDGER_SECRETS":   "local://" + shared + "/secrets",
		"AUTHLEDGER_ISSUER":    "http://authledger.e2e.test",
	}
	a := e2eharness.Start(t, bin, e2eharness.Options{Env: env})
	login := registerService(t, a, "--name", "login", "--scopes", "sessions:create")
	if login.ClientSecret == "" {
		t.Fatalf("registered client %s has no secret", login.ClientID)
	}
	b := e2eharness.Start(t, bin, e2eharness.Options{Env: env})

	// Both instances must know the client before the measurement.
	var m2m string
	for _, s := range []*e2eharness.Server{a, b} {
		eventually(t, "client usable on "+s.BaseURL, func() error {
			code, out := postForm(t, s.BaseURL, "/oauth2/token", login, url.Values{"grant_type": {"client_credentials"}, "scope": {"sessions:create"}})
			if code != 200 {
				return fmt.Errorf("%d %v", code, out)
			}
			m2m = out["access_token"].(string)
			return nil
		})
	}
	req, _ := http.NewRequest(http.MethodPost, a.BaseURL+"/v1/sessions", strings.NewReader(`{"subject":"alice","amr":["pwd"],"acr":"aal1"}`))
	req.Header.Set("Authorization", "Bearer "+m2m)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("start session: %d %s", resp.StatusCode, body)
	}
	var sess map[string]any
	_ = json.Unmarshal(body, &sess)
	at := sess["access_token"].(string)

	if code, out := postForm(t, b.BaseURL, "/oauth2/introspect", login, url.Values{"token": {at}}); code != 200 || out["active"] != true {
		t.Fatalf("instance b before revocation: %d %v", code, out)
	}
	if code, out := postForm(t, a.BaseURL, "/oauth2/revoke", login, url.Values{"token": {at}, "token_type_hint": {"access_token"}}); code != 200 {
		t.Fatalf("revoke on a: %d %v", code, out)
	}
	revoked := time.Now()
	for {
		_, out := postForm(t, b.BaseURL, "/oauth2/introspect", login, url.Values{"token": {at}})
		if out["active"] == false {
			break
		}
		// An eventual check only: a generous bound that says "never
		// arrived", not a speed bar (the benchmark in tests/perf measures
		// propagation).
		if time.Since(revoked) > 10*time.Second {
			t.Fatal("instance b still answers active 10 s after the revocation on a")
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Logf("revocation on instance a reached instance b in %s", time.Since(revoked))

	// Refresh-token reuse on b kills the family on a as well, and ends the
	// browser session on both.
	cookie := sess["session_token"].(string)
	if code := listSessions(t, a.BaseURL, cookie); code != http.StatusOK {
		t.Fatalf("cookie on a before reuse: %d", code)
	}
	rt := sess["refresh_token"].(string)
	code, out := postForm(t, b.BaseURL, "/oauth2/token", login, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	if code != 200 {
		t.Fatalf("refresh on b: %d %v", code, out)
	}
	// The successor is used too, so replaying rt is reuse even within the
	// default retry grace (which only covers the token spent last while its
	// successor is unused).
	if code, out := postForm(t, b.BaseURL, "/oauth2/token", login, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {out["refresh_token"].(string)}}); code != 200 {
		t.Fatalf("second refresh on b: %d %v", code, out)
	}
	if code, out := postForm(t, a.BaseURL, "/oauth2/token", login, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}); code != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("reuse on a: %d %v", code, out)
	}
	for _, s := range []*e2eharness.Server{a, b} {
		deadline := time.Now().Add(10 * time.Second)
		for listSessions(t, s.BaseURL, cookie) != http.StatusUnauthorized {
			if time.Now().After(deadline) {
				t.Fatalf("the session cookie still works on %s 10 s after refresh-token reuse", s.BaseURL)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// listSessions is GET /v1/sessions with the session cookie, as a browser
// sends it (the harness serves plain HTTP, so the header is set by hand).
func listSessions(t *testing.T, base, cookie string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/sessions", nil)
	req.AddCookie(&http.Cookie{Name: "__Host-authledger_session", Value: cookie})
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
