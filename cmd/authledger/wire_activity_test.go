package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authledger/authledger/api"
)

// TestTheServedAccountPageReadsTheAuditModel runs the assembled service
// with the login module and its background tasks: the account page lists
// the signed-in subject's audit entries (which the passkey stream alone
// never holds) and none of another subject's.
func TestTheServedAccountPageReadsTheAuditModel(t *testing.T) {
	clearEnv(t)
	t.Setenv("AUTHLEDGER_DATA_DIR", t.TempDir())
	t.Setenv("AUTHLEDGER_LOGIN", "passkeys")
	var out, errOut bytes.Buffer
	if err := runServices(context.Background(), []string{"register", "--name", "app", "--scopes", "sessions:create"}, &out, &errOut); err != nil {
		t.Fatalf("register: %v %s", err, errOut.String())
	}
	var svc struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(out.Bytes(), &svc); err != nil || svc.ClientSecret == "" {
		t.Fatalf("register printed %s", out.String())
	}
	e := buildServed(t, true)
	serve := func(method, target, body string, hdr map[string]string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec
	}
	// eventually polls (bounded) until ok: the registry and the read
	// models follow the ledger in the background.
	eventually := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); !ok(); time.Sleep(25 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting for %s", what)
			}
		}
	}
	var access string
	eventually("the client's first token", func() bool {
		req := httptest.NewRequest("POST", "/oauth2/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(svc.ClientID, svc.ClientSecret)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		return rec.Code == 200 && json.Unmarshal(rec.Body.Bytes(), &tok) == nil && func() bool { access = tok.AccessToken; return true }()
	})
	jsonBearer := map[string]string{"Authorization": "Bearer " + access, "Content-Type": "application/json"}
	start := func(subject string) (cookie map[string]string, id string) {
		t.Helper()
		rec := serve("POST", "/v1/sessions", `{"subject":"`+subject+`","amr":["hwk"],"acr":"aal1"}`, jsonBearer)
		var s struct {
			SessionToken string `json:"session_token"`
			SessionID    string `json:"session_id"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil || s.SessionToken == "" {
			t.Fatalf("POST /v1/sessions for %s: %d %s", subject, rec.Code, rec.Body)
		}
		return map[string]string{"Cookie": api.SessionCookie + "=" + s.SessionToken}, s.SessionID
	}
	aliceCookie, _ := start("alice")
	_, bobID := start("bob")
	// Only bob's session is elevated: alice's page must never say so.
	rec := serve("POST", "/v1/sessions/"+bobID+"/elevate", `{"acr":"aal2","amr":["hwk","pin"]}`, jsonBearer)
	var el struct {
		SessionToken string `json:"session_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &el); err != nil || el.SessionToken == "" {
		t.Fatalf("elevate: %d %s", rec.Code, rec.Body)
	}
	// Elevation rotates the session token.
	bobCookie := map[string]string{"Cookie": api.SessionCookie + "=" + el.SessionToken}
	activity := func(cookie map[string]string) string {
		t.Helper()
		rec := serve("GET", "/account", "", cookie)
		if rec.Code != 200 {
			t.Fatalf("GET /account: %d %s", rec.Code, rec.Body)
		}
		body := rec.Body.String()
		i := strings.Index(body, `<ul id="activity">`)
		if i < 0 {
			t.Fatalf("no activity list: %s", body)
		}
		return body[i:]
	}
	var bobs string
	eventually("bob's elevation on his account page", func() bool {
		bobs = activity(bobCookie)
		return strings.Contains(bobs, "session elevated")
	})
	if !strings.Contains(bobs, "session started") || !strings.Contains(bobs, "by "+svc.ClientID) {
		t.Errorf("bob's activity: %s", bobs)
	}
	// The audit model applies the ledger in order, so alice's start
	// (before bob's elevation) is already folded.
	alices := activity(aliceCookie)
	if !strings.Contains(alices, "session started") {
		t.Errorf("alice's activity lacks her session start: %s", alices)
	}
	if strings.Contains(alices, "session elevated") || strings.Contains(alices, "acr aal2") {
		t.Errorf("alice's activity shows bob's elevation: %s", alices)
	}
}
