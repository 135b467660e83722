package chaos

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// startSession starts a session for subject through login (a client with
// scope sessions:create) and returns its cookie value and refresh token.
func startSession(t *testing.T, srv *e2eharness.Server, login client, subject string) (cookie, refresh string) {
	t.Helper()
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
	// The CLI's registration reaches the server's registry through the
	// ledger feed; until then /v1/sessions does not know the caller is active.
	var sess map[string]any
	eventually(t, "a session started", func() error {
		req, _ := http.NewRequest(http.MethodPost, srv.BaseURL+"/v1/sessions", strings.NewReader(`{"subject":"`+subject+`","amr":["pwd"],"acr":"aal1"}`))
		req.Header.Set("Authorization", "Bearer "+m2m)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		sess = nil
		_ = json.NewDecoder(resp.Body).Decode(&sess)
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("start session: %d %v", resp.StatusCode, sess)
		}
		return nil
	})
	return sess["session_token"].(string), sess["refresh_token"].(string)
}

// readyz is /readyz's status and its checks.
func readyz(t *testing.T, srv *e2eharness.Server, query string) (int, map[string]string) {
	t.Helper()
	resp, err := srv.Get("/readyz" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Checks map[string]string `json:"checks"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Checks
}
