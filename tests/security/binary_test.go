package security_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// realBinary is ./cmd/authledger, built once per test process on first
// use, so the in-process tests of the package pay nothing.
func realBinary(t *testing.T) string { return e2eharness.Binary(t) }

// binClient is a client registered through the CLI.
type binClient struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

func binRegister(t *testing.T, srv *e2eharness.Server, args ...string) binClient {
	t.Helper()
	res := srv.CLI(append([]string{"services", "register"}, args...)...)
	if res.Code != 0 {
		t.Fatalf("services register: exit %d: %s", res.Code, res.Stderr)
	}
	var c binClient
	if err := json.Unmarshal([]byte(res.Stdout), &c); err != nil || c.ClientID == "" || c.ClientSecret == "" {
		t.Fatalf("services register printed %q: %v", res.Stdout, err)
	}
	return c
}

type binResult struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func binDo(t *testing.T, req *http.Request) binResult {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := binResult{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	_ = json.Unmarshal(b, &r.body)
	return r
}

// binForm posts an OAuth form as cl (client_secret_basic).
func binForm(t *testing.T, srv *e2eharness.Server, path string, cl binClient, v url.Values) binResult {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.BaseURL+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(cl.ClientID), url.QueryEscape(cl.ClientSecret))
	return binDo(t, req)
}

// binBearer calls path with a bearer token and an optional JSON body.
func binBearer(t *testing.T, srv *e2eharness.Server, method, path, bearer, jsonBody string) binResult {
	t.Helper()
	var body io.Reader
	if jsonBody != "" {
		body = strings.NewReader(jsonBody)
	}
	req, _ := http.NewRequest(method, srv.BaseURL+path, body)
	req.Header.Set("Authorization", "Bearer "+bearer)
	if jsonBody != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return binDo(t, req)
}

// binM2M gets cl's client_credentials token, waiting for the server to
// see a client the CLI just registered (it follows the ledger feed).
func binM2M(t *testing.T, srv *e2eharness.Server, cl binClient, scope string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := binForm(t, srv, "/oauth2/token", cl, url.Values{"grant_type": {"client_credentials"}, "scope": {scope}})
		if r.status == http.StatusOK {
			return r.body["access_token"].(string)
		}
		if time.Now().After(deadline) {
			t.Fatalf("client_credentials for %s: %d %s", cl.ClientID, r.status, r.raw)
		}
		// Slow enough to stay inside the failed-authentication budget.
		time.Sleep(150 * time.Millisecond)
	}
}
