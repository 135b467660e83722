package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// A login service registered a moment ago, before the registry has folded
// it, starts a session: the session API looks the client up in the ledger
// as client authentication does, rather than answering "the calling
// client is not active" (a chaos run saw that 401 under load). The server
// here runs no background task, so its registry never folds the client.
func TestASessionStartsForAClientTheRegistryHasNotFolded(t *testing.T) {
	clearEnv(t)
	t.Setenv("AUTHLEDGER_DATA_DIR", t.TempDir())
	e := buildServed(t, false)
	var out, errOut bytes.Buffer
	if err := runServices(context.Background(), []string{"register", "--name", "login", "--scopes", "sessions:create"}, &out, &errOut); err != nil {
		t.Fatalf("register: %v %s", err, errOut.String())
	}
	var login struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(out.Bytes(), &login); err != nil || login.ClientSecret == "" {
		t.Fatalf("register printed %s", out.String())
	}
	req := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {"sessions:create"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(login.ClientID, login.ClientSecret)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &tok) != nil {
		t.Fatalf("token for the unfolded client: %d %s", rec.Code, rec.Body)
	}
	req = httptest.NewRequest(http.MethodPost, "/v1/sessions", strings.NewReader(`{"subject":"alice","amr":["pwd"],"acr":"urn:test:pwd"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	rec = httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		t.Fatalf("session start by a client the registry has not folded: %d %s", rec.Code, rec.Body)
	}
}
