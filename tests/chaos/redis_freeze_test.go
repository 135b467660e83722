package chaos

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authledger/authledger/internal/redistest"
	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// sessionCall is GET /v1/sessions with the session cookie: the status and
// the problem type.
func sessionCall(t *testing.T, base, cookie string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/sessions", nil)
	req.AddCookie(&http.Cookie{Name: "__Host-authledger_session", Value: cookie})
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var p struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(b, &p)
	return resp.StatusCode, p.Type
}

// A frozen Redis (SIGSTOP) under the real binary: client_credentials and
// refresh keep succeeding, session calls answer 503
// session-store-unavailable, and sessions work again once Redis resumes.
func TestAFrozenRedisLeavesTokenAndRefreshTrafficAlone(t *testing.T) {
	rs := redistest.Start(t)
	srv := e2eharness.Start(t, bin, e2eharness.Options{Env: map[string]string{
		"AUTHLEDGER_REDIS_URL": rs.URL(0),
	}})
	login := register(t, srv, "--name", "login", "--scopes", "sessions:create read")
	cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"sessions:create"}}
	var m2m string
	eventually(t, "client known to the server", func() error {
		code, out, err := post(http.DefaultClient, srv.BaseURL, "/oauth2/token", login, cc)
		if err != nil || code != 200 {
			return fmt.Errorf("%d %v %v", code, out, err)
		}
		m2m = out["access_token"].(string)
		return nil
	})
	req, _ := http.NewRequest(http.MethodPost, srv.BaseURL+"/v1/sessions", strings.NewReader(`{"subject":"alice","amr":["pwd"],"acr":"aal1"}`))
	req.Header.Set("Authorization", "Bearer "+m2m)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var sess map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&sess)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("start session: %d %v", resp.StatusCode, sess)
	}
	cookie, rt := sess["session_token"].(string), sess["refresh_token"].(string)
	if code, _ := sessionCall(t, srv.BaseURL, cookie); code != 200 {
		t.Fatalf("session call before the freeze: %d", code)
	}

	rs.Freeze()
	resumed := false
	defer func() {
		if !resumed {
			rs.Resume()
		}
	}()
	var y tally
	var jtis []string
	hc := &http.Client{Timeout: 30 * time.Second}
	// Enough requests to outlast several breaker windows.
	for i := range 150 {
		code, out, err := post(hc, srv.BaseURL, "/oauth2/token", login, cc)
		switch {
		case err != nil:
			y.fail("transport")
		case code != 200:
			y.fail(fmt.Sprintf("client_credentials %d %v", code, out["error"]))
		default:
			y.ack()
			jtis = append(jtis, jti(t, out["access_token"].(string)))
		}
		if i%3 == 0 {
			code, out, err := post(hc, srv.BaseURL, "/oauth2/token", login, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
			switch {
			case err != nil:
				y.fail("transport")
			case code != 200:
				y.fail(fmt.Sprintf("refresh %d %v", code, out["error"]))
			default:
				y.ack()
				rt = out["refresh_token"].(string)
			}
		}
	}
	code, typ := sessionCall(t, srv.BaseURL, cookie)
	if code != http.StatusServiceUnavailable || !strings.HasSuffix(typ, "session-store-unavailable") {
		t.Errorf("session call on a frozen Redis: %d %q, want 503 session-store-unavailable", code, typ)
	}

	rs.Resume()
	resumed = true
	eventually(t, "session calls after Redis resumed", func() error {
		if code, typ := sessionCall(t, srv.BaseURL, cookie); code != 200 {
			return fmt.Errorf("%d %s", code, typ)
		}
		return nil
	})
	checkNothingLost(t, srv, &y, jtis)
}
