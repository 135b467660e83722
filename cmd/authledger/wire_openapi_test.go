package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/authledger/authledger/api"
)

// servedApp builds the embedded profile the way serve does (every wiring
// step, temp data dir, no Redis) and returns its HTTP handler.
func servedApp(t *testing.T) *echo.Echo {
	t.Helper()
	clearEnv(t)
	t.Setenv("AUTHLEDGER_DATA_DIR", t.TempDir())
	return buildServed(t, false)
}

// buildServed builds the app from the environment; with run, its background
// tasks (projection runner, feeds) run until the test ends, as in serve.
func buildServed(t *testing.T, run bool) *echo.Echo {
	t.Helper()
	cfg, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	a, err := buildApp(context.Background(), cfg, newLogger(io.Discard, "error"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	if run {
		for _, task := range a.tasks {
			wg.Go(func() { _ = task.run(ctx) })
		}
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		if err := a.close(); err != nil {
			t.Error(err)
		}
	})
	return a.server()
}

// TestServedRoutesMatchTheOpenAPIDocument compares the real route table
// with the document, so a route added to any part without being
// documented (or documented and never wired) fails here.
func TestServedRoutesMatchTheOpenAPIDocument(t *testing.T) {
	e := servedApp(t)
	doc, err := api.NewOpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.CheckRoutes(e.Routes()); err != nil {
		t.Fatal(err)
	}
}

// docCheck validates answers against the OpenAPI document: the status
// must be listed for the operation and the body must match its schema.
type docCheck struct {
	doc map[string]any
	c   *jsonschema.Compiler
}

const docBase = "file:///authledger/openapi.json"

func newDocCheck(t *testing.T) *docCheck {
	t.Helper()
	o, err := api.NewOpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(o.JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	raw, err := jsonschema.UnmarshalJSON(bytes.NewReader(o.JSON()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(docBase, raw); err != nil {
		t.Fatal(err)
	}
	return &docCheck{doc: doc, c: c}
}

func ptrEsc(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1") }

func (d *docCheck) lookup(ptr string) (map[string]any, bool) {
	var cur any = d.doc
	for _, seg := range strings.Split(strings.TrimPrefix(ptr, "#/"), "/") {
		m, _ := cur.(map[string]any)
		var ok bool
		if cur, ok = m[strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")]; !ok {
			return nil, false
		}
	}
	m, ok := cur.(map[string]any)
	return m, ok
}

func (d *docCheck) check(t *testing.T, method, path string, rec *httptest.ResponseRecorder) {
	t.Helper()
	name := method + " " + path
	t.Logf("%s → %d", name, rec.Code)
	ptr := "#/paths/" + ptrEsc(path) + "/" + strings.ToLower(method) + "/responses/" + strconv.Itoa(rec.Code)
	resp, ok := d.lookup(ptr)
	if !ok {
		t.Errorf("%s answered %d, which the document does not list: %s", name, rec.Code, rec.Body)
		return
	}
	if ref, ok := resp["$ref"].(string); ok {
		ptr = ref
		resp, _ = d.lookup(ref)
	}
	mt, _, _ := strings.Cut(rec.Header().Get("Content-Type"), ";")
	content, _ := resp["content"].(map[string]any)
	if _, ok := content[mt]; !ok {
		if rec.Body.Len() > 0 {
			t.Errorf("%s %d: content type %q is not documented", name, rec.Code, mt)
		}
		return
	}
	sch, err := d.c.Compile(docBase + ptr + "/content/" + ptrEsc(mt) + "/schema")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Errorf("%s %d: not JSON: %s", name, rec.Code, rec.Body)
		return
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("%s %d: body does not match the documented schema: %v\n%s", name, rec.Code, err, rec.Body)
	}
}

// TestServedAnswersMatchTheOpenAPIDocument sends requests that need no
// credentials to the real server and checks each status is documented for
// its operation and each body matches the documented schema.
func TestServedAnswersMatchTheOpenAPIDocument(t *testing.T) {
	e := servedApp(t)
	d := newDocCheck(t)
	for _, tc := range []struct {
		method, target, path, body, contentType string
		header                                  map[string]string
	}{
		{method: "GET", target: "/healthz", path: "/healthz"},
		{method: "GET", target: "/readyz", path: "/readyz"},
		{method: "GET", target: "/.well-known/jwks.json", path: "/.well-known/jwks.json"},
		{method: "GET", target: "/.well-known/oauth-authorization-server", path: "/.well-known/oauth-authorization-server"},
		{method: "GET", target: "/.well-known/openid-configuration", path: "/.well-known/openid-configuration"},
		{method: "GET", target: "/openapi.json", path: "/openapi.json"},
		{method: "GET", target: "/v1/revocations?after=0", path: "/v1/revocations"},
		{method: "GET", target: "/v1/revocations?wait=x", path: "/v1/revocations"},
		{method: "GET", target: "/v1/audit/checkpoint", path: "/v1/audit/checkpoint"},
		{method: "GET", target: "/v1/audit/checkpoint", path: "/v1/audit/checkpoint", header: map[string]string{"Authorization": "Bearer not-a-jwt"}},
		{method: "GET", target: "/v1/admin/services", path: "/v1/admin/services"},
		{method: "GET", target: "/v1/admin/projections", path: "/v1/admin/projections"},
		{method: "POST", target: "/v1/sessions", path: "/v1/sessions"},
		{method: "GET", target: "/v1/sessions", path: "/v1/sessions"},
		{method: "POST", target: "/v1/session/token", path: "/v1/session/token"},
		{method: "DELETE", target: "/v1/sessions/s1", path: "/v1/sessions/{id}", header: map[string]string{"Origin": "https://evil.example"}},
		{method: "POST", target: "/oauth2/token", path: "/oauth2/token", body: "grant_type=client_credentials", contentType: "application/x-www-form-urlencoded"},
		{method: "POST", target: "/oauth2/token", path: "/oauth2/token", body: "grant_type=client_credentials&client_id=nobody&client_secret=x", contentType: "application/x-www-form-urlencoded"},
		{method: "POST", target: "/oauth2/token", path: "/oauth2/token", body: "{}", contentType: "application/json"},
		{method: "POST", target: "/oauth2/revoke", path: "/oauth2/revoke", body: "token=x&client_id=nobody&client_secret=x", contentType: "application/x-www-form-urlencoded"},
		{method: "POST", target: "/oauth2/introspect", path: "/oauth2/introspect", body: "token=x", contentType: "application/x-www-form-urlencoded"},
		{method: "POST", target: "/v1/webhooks/infisical", path: "/v1/webhooks/infisical", body: `{"timestamp":1}`, contentType: "application/json"},
	} {
		req := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
		if tc.contentType != "" {
			req.Header.Set("Content-Type", tc.contentType)
		}
		for k, v := range tc.header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		d.check(t, tc.method, tc.path, rec)
	}
}

// TestServedCredentialedAnswersMatchTheOpenAPIDocument walks the success
// paths with a real client: token, introspect, sessions, refresh, audit,
// admin and revoke, checking each answer against the document.
func TestServedCredentialedAnswersMatchTheOpenAPIDocument(t *testing.T) {
	clearEnv(t)
	t.Setenv("AUTHLEDGER_DATA_DIR", t.TempDir())
	const origin = "https://app.example.com"
	t.Setenv("AUTHLEDGER_ALLOWED_ORIGINS", origin)
	var out, errOut bytes.Buffer
	if err := runServices(context.Background(), []string{"register", "--name", "ops", "--scopes",
		"sessions:create audit:read services:admin projections:admin"}, &out, &errOut); err != nil {
		t.Fatalf("register: %v %s", err, errOut.String())
	}
	var ops struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(out.Bytes(), &ops); err != nil || ops.ClientSecret == "" {
		t.Fatalf("register printed %s", out.String())
	}
	e := buildServed(t, true)
	d := newDocCheck(t)

	do := func(method, target, path string, body string, hdr map[string]string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		d.check(t, method, path, rec)
		return rec
	}
	form := func(target string, body string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest("POST", target, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(ops.ClientID, ops.ClientSecret)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec
	}
	decode := func(rec *httptest.ResponseRecorder, v any) {
		t.Helper()
		if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}

	// The registry learns the client from the ledger feed: wait (bounded)
	// for the first token.
	var rec *httptest.ResponseRecorder
	for range 200 {
		if rec = form("/oauth2/token", "grant_type=client_credentials"); rec.Code == 200 {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	d.check(t, "POST", "/oauth2/token", rec)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	decode(rec, &tok)
	bearer := map[string]string{"Authorization": "Bearer " + tok.AccessToken}
	jsonBearer := map[string]string{"Authorization": "Bearer " + tok.AccessToken, "Content-Type": "application/json"}

	d.check(t, "POST", "/oauth2/introspect", form("/oauth2/introspect", "token="+tok.AccessToken))
	rec = do("POST", "/v1/sessions", "/v1/sessions", `{"subject":"u-1","amr":["hwk"],"acr":"aal1"}`, jsonBearer)
	var sess struct {
		SessionToken string `json:"session_token"`
		SessionID    string `json:"session_id"`
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	decode(rec, &sess)
	do("POST", "/v1/sessions", "/v1/sessions", `{"subject":""}`, jsonBearer)
	do("POST", "/v1/sessions", "/v1/sessions", `{}`, bearer)
	rec = do("POST", "/v1/sessions/"+sess.SessionID+"/elevate", "/v1/sessions/{id}/elevate", `{"acr":"aal2","amr":["hwk","pin"]}`, jsonBearer)
	var el struct {
		SessionToken string `json:"session_token"`
	}
	decode(rec, &el)
	cookie := map[string]string{"Cookie": api.SessionCookie + "=" + el.SessionToken, "Origin": origin}
	do("POST", "/v1/session/token", "/v1/session/token", "", cookie)
	do("GET", "/v1/sessions", "/v1/sessions", "", cookie)
	do("GET", "/v1/sessions", "/v1/sessions", "", map[string]string{"Authorization": "Bearer " + sess.AccessToken})
	rec = form("/oauth2/token", "grant_type=refresh_token&refresh_token="+url.QueryEscape(sess.RefreshToken))
	d.check(t, "POST", "/oauth2/token", rec)
	d.check(t, "POST", "/oauth2/token", form("/oauth2/token", "grant_type=refresh_token&refresh_token="+url.QueryEscape(sess.RefreshToken)))

	do("GET", "/v1/audit/checkpoint", "/v1/audit/checkpoint", "", bearer)
	do("GET", "/v1/admin/projections", "/v1/admin/projections", "", bearer)
	do("POST", "/v1/admin/projections/no-such/rebuild", "/v1/admin/projections/{name}/rebuild", "", bearer)
	rec = do("POST", "/v1/admin/services", "/v1/admin/services", `{"name":"billing","scopes":["invoices:read"],"audiences":["https://billing.internal"]}`, jsonBearer)
	var billing struct {
		ClientID string `json:"client_id"`
	}
	decode(rec, &billing)
	do("POST", "/v1/admin/services", "/v1/admin/services", `{"nme":"x"}`, jsonBearer)
	do("GET", "/v1/admin/services", "/v1/admin/services", "", bearer)
	do("GET", "/v1/admin/services/"+billing.ClientID, "/v1/admin/services/{id}", "", bearer)
	do("GET", "/v1/admin/services/nobody", "/v1/admin/services/{id}", "", bearer)
	do("POST", "/v1/admin/services/"+billing.ClientID+"/rotate-secret", "/v1/admin/services/{id}/rotate-secret", `{"window_seconds":60}`, jsonBearer)
	do("DELETE", "/v1/admin/services/"+billing.ClientID+"/keys/nokey", "/v1/admin/services/{id}/keys/{kid}", "", bearer)
	do("POST", "/v1/admin/services/"+billing.ClientID+"/disable", "/v1/admin/services/{id}/disable", `{"reason":"test"}`, jsonBearer)

	do("DELETE", "/v1/sessions/"+sess.SessionID, "/v1/sessions/{id}", "", cookie)
	do("DELETE", "/v1/sessions/"+sess.SessionID, "/v1/sessions/{id}", "", map[string]string{"Authorization": "Bearer " + sess.AccessToken})
	d.check(t, "POST", "/oauth2/revoke", form("/oauth2/revoke", "token="+url.QueryEscape(tok.AccessToken)))
	do("GET", "/v1/revocations?after=0", "/v1/revocations", "", nil)
}

// Background tasks carry names the wiring gives them: a metric label and
// a /readyz entry must not change when a closure moves.
func TestEveryBackgroundTaskHasItsOwnName(t *testing.T) {
	clearEnv(t)
	t.Setenv("AUTHLEDGER_DATA_DIR", t.TempDir())
	cfg, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	a, err := buildApp(context.Background(), cfg, newLogger(io.Discard, "error"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	seen := map[string]bool{}
	for _, task := range a.tasks {
		if task.name == "" || seen[task.name] {
			t.Fatalf("task name %q is empty or repeated (tasks: %d)", task.name, len(a.tasks))
		}
		seen[task.name] = true
	}
	for _, want := range []string{"projection runner", "key rotation scheduler", "revocation fan-out"} {
		if !seen[want] {
			t.Errorf("no task named %q", want)
		}
	}
}
