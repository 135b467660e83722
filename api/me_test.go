package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/projections"
	"github.com/authledger/authledger/queries"
	"github.com/authledger/authledger/readmodels/audit"
)

// meEnv is the token stack with the audit model folded on a real SQLite
// read-model database and the /v1/me and /v1/audit groups served over it.
type meEnv struct {
	*tokEnv
	me     *httptest.Server
	runner *projections.Runner
}

func newMeEnv(t testing.TB) *meEnv {
	t.Helper()
	e := newTokEnv(t, tokEnvOpts{})
	db, err := projections.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "readmodels.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	r, err := projections.New(projections.Config{Store: e.store, DB: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Register(audit.Projection{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = r.Start(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	reader := audit.NewStore(db)
	pass := func(next echo.HandlerFunc) echo.HandlerFunc { return next }
	srv := httptest.NewServer(api.New(api.Config{},
		api.Me{Access: e.uc.Access, Audit: reader, Sessions: e.uc.List, End: e.uc.End},
		api.AuditEvents{Reader: reader, Guard: pass}))
	t.Cleanup(srv.Close)
	return &meEnv{tokEnv: e, me: srv, runner: r}
}

func (m *meEnv) caughtUp(t testing.TB) {
	t.Helper()
	head, err := m.store.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.runner.WaitFor(ctx, audit.Name, head.Position); err != nil {
		t.Fatal(err)
	}
}

func (m *meEnv) get(t testing.TB, method, path, bearer string) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, m.me.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return doRequest(t, m.me.Client(), req)
}

func doRequest(t testing.TB, c *http.Client, req *http.Request) httpResult {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := httpResult{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	_ = json.Unmarshal(b, &r.body)
	return r
}

type person struct {
	sub, sid, access, refresh string
}

func (m *meEnv) signIn(t testing.TB, sub string) person {
	t.Helper()
	r := m.startSession(t, m.m2m(t, m.tokEnv.login, api.SessionsCreateScope), sub)
	if r.status != http.StatusCreated {
		t.Fatalf("start %s: %d %s", sub, r.status, r.raw)
	}
	return person{sub: sub, sid: r.body["session_id"].(string), access: r.body["access_token"].(string), refresh: r.body["refresh_token"].(string)}
}

// A subject tries every filter, path and parameter trick on /v1/me/* to
// read or end another subject's data, and gets nothing.
func TestMeShowsOnlyTheCallersOwnData(t *testing.T) {
	t.Parallel()
	m := newMeEnv(t)
	alice, bob := m.signIn(t, "alice"), m.signIn(t, "bob")
	if r := m.form(t, "/oauth2/token", m.tokEnv.login, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {bob.refresh}}); r.status != http.StatusOK {
		t.Fatalf("bob's refresh: %d %s", r.status, r.raw)
	}
	m.caughtUp(t)

	bobsEntries := func() []string {
		r := m.get(t, http.MethodGet, "/v1/audit/events?subject=bob", "")
		var out []string
		for _, e := range r.body["entries"].([]any) {
			out = append(out, e.(map[string]any)["hash"].(string))
		}
		return out
	}()
	if len(bobsEntries) < 3 {
		t.Fatalf("bob has %d entries; the test would prove nothing", len(bobsEntries))
	}
	leaks := func(raw string) bool {
		if strings.Contains(raw, bob.sid) || strings.Contains(raw, `"bob"`) {
			return true
		}
		for _, h := range bobsEntries {
			if strings.Contains(raw, h) {
				return true
			}
		}
		return false
	}

	// alice's own trail: hers only, her session start among it.
	own := m.get(t, http.MethodGet, "/v1/me/audit", alice.access)
	if own.status != http.StatusOK || !strings.Contains(own.raw, alice.sid) || !strings.Contains(own.raw, "session started") {
		t.Fatalf("alice's trail: %d %s", own.status, own.raw)
	}
	for _, e := range own.body["entries"].([]any) {
		if s := e.(map[string]any)["subject"]; s != "alice" {
			t.Fatalf("alice sees an entry of %v: %v", s, e)
		}
	}
	if leaks(own.raw) {
		t.Fatalf("alice's trail names bob: %s", own.raw)
	}

	bobsPos := func() string {
		r := m.get(t, http.MethodGet, "/v1/audit/events?subject=bob&order=desc&limit=1", "")
		return r.body["next_cursor"].(string)
	}()
	for _, q := range []string{
		"?subject=bob", "?actor=subject:bob", "?client_id=" + string(m.tokEnv.login.Client.ID), "?session_id=" + bob.sid,
		"?family=x", "?Subject=bob", "?subject%5B%5D=bob", "?sub=bob", "?subject=bob&subject=alice",
		"?type=session.started.v1&type=session.started.v1&subject=bob", "?cursor=" + bobsPos + "&subject=bob",
		"?order=sideways", "?limit=100000", "?cursor=not-a-cursor", "?since=yesterday",
	} {
		r := m.get(t, http.MethodGet, "/v1/me/audit"+q, alice.access)
		if r.status == http.StatusOK || leaks(r.raw) {
			t.Errorf("GET /v1/me/audit%s: %d %s, want a refusal naming nothing of bob", q, r.status, r.raw)
		}
	}
	// A cursor is a position, never a subject: bob's cursor in alice's
	// hands pages through alice's entries only.
	if r := m.get(t, http.MethodGet, "/v1/me/audit?cursor="+bobsPos, alice.access); r.status != http.StatusOK || leaks(r.raw) {
		t.Errorf("bob's cursor: %d %s", r.status, r.raw)
	}
	for _, q := range []string{"", "?subject=bob"} {
		r := m.get(t, http.MethodGet, "/v1/me/sessions"+q, alice.access)
		if leaks(r.raw) || (q != "" && r.status == http.StatusOK) {
			t.Errorf("GET /v1/me/sessions%s: %d %s", q, r.status, r.raw)
		}
	}
	if r := m.get(t, http.MethodGet, "/v1/me/sessions", alice.access); r.status != http.StatusOK || !strings.Contains(r.raw, alice.sid) {
		t.Fatalf("alice's sessions: %d %s", r.status, r.raw)
	}
	for _, p := range []string{"/v1/me/sessions/" + bob.sid, "/v1/me/sessions/" + url.PathEscape(bob.sid+"/"), "/v1/me/sessions/%2e%2e%2f" + bob.sid,
		"/v1/me/sessions/" + strings.ToUpper(bob.sid), "/v1/me/sessions/../sessions/" + bob.sid} {
		r := m.get(t, http.MethodDelete, p, alice.access)
		if r.status == http.StatusNoContent || leaks(r.raw) {
			t.Errorf("DELETE %s: %d %s", p, r.status, r.raw)
		}
	}
	// M2M tokens are refused on every /v1/me path, whatever they ask.
	svc := m.m2m(t, m.tokEnv.login, api.SessionsCreateScope)
	for _, p := range []string{"/v1/me/audit", "/v1/me/audit?subject=bob", "/v1/me/sessions"} {
		if r := m.get(t, http.MethodGet, p, svc); r.status != http.StatusUnauthorized || r.body["type"] != api.ProblemTypeBase+"user-token-required" {
			t.Errorf("GET %s with an M2M token: %d %s", p, r.status, r.raw)
		}
	}
	if r := m.get(t, http.MethodDelete, "/v1/me/sessions/"+bob.sid, svc); r.status != http.StatusUnauthorized {
		t.Errorf("DELETE with an M2M token: %d %s", r.status, r.raw)
	}
	if r := m.get(t, http.MethodGet, "/v1/me/audit", ""); r.status != http.StatusUnauthorized {
		t.Errorf("no token: %d", r.status)
	}

	// bob's session survived all of it.
	if r := m.get(t, http.MethodGet, "/v1/me/sessions", bob.access); r.status != http.StatusOK || !strings.Contains(r.raw, bob.sid) {
		t.Fatalf("bob's session after alice's attempts: %d %s", r.status, r.raw)
	}

	// alice ends her own session: recorded like any revocation.
	if r := m.get(t, http.MethodDelete, "/v1/me/sessions/"+alice.sid, alice.access); r.status != http.StatusNoContent {
		t.Fatalf("alice ends her session: %d %s", r.status, r.raw)
	}
	m.caughtUp(t)
	page, err := audit.NewStore(mustDB(t, m)).Events(context.Background(), queries.AuditFilter{Subject: "alice", Session: alice.sid, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	var ended, revoked bool
	for _, e := range page.Entries {
		ended = ended || (e.Summary == "session ended: ended by request" && e.Actor == "subject:alice")
		revoked = revoked || strings.HasPrefix(e.Summary, "refresh token family revoked")
	}
	if !ended || !revoked {
		t.Fatalf("alice's ending is not in her trail as a revocation: %+v", page.Entries)
	}
}

func mustDB(t *testing.T, m *meEnv) *projections.DB {
	t.Helper()
	return m.runner.DB()
}
