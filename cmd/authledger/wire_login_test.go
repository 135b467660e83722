package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAnIPAddressIssuerStopsPasskeyLoginAtStartUp(t *testing.T) {
	clearEnv(t)
	t.Setenv("AUTHLEDGER_DATA_DIR", t.TempDir())
	t.Setenv("AUTHLEDGER_ISSUER", "http://127.0.0.1:8080")
	t.Setenv("AUTHLEDGER_LOGIN", "passkeys")
	_, err := LoadConfig()
	if err == nil || !strings.Contains(err.Error(), "AUTHLEDGER_LOGIN_RP_ID") {
		t.Fatalf("LoadConfig: %v, want an error naming AUTHLEDGER_LOGIN_RP_ID", err)
	}
	t.Setenv("AUTHLEDGER_LOGIN_RP_ID", "localhost")
	t.Setenv("AUTHLEDGER_LOGIN_ORIGINS", "http://localhost:8080")
	if _, err := LoadConfig(); err != nil {
		t.Fatalf("with an RP id: %v", err)
	}
}

func TestPasskeyLoginServesTheSignInPage(t *testing.T) {
	clearEnv(t)
	t.Setenv("AUTHLEDGER_DATA_DIR", t.TempDir())
	t.Setenv("AUTHLEDGER_LOGIN", "passkeys")
	e := buildServed(t, false)
	found := false
	for _, r := range e.Routes() {
		if r.Path == "/login/passkey/signin" {
			found = true
		}
	}
	if !found {
		t.Fatal("AUTHLEDGER_LOGIN=passkeys served no /login/passkey/signin")
	}
}

func TestABadUpstreamsFileStopsStartUp(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	t.Setenv("AUTHLEDGER_DATA_DIR", dir)
	path := filepath.Join(dir, "upstreams.json")
	if err := os.WriteFile(path, []byte(`[{"name":"corp","issuer":"https://idp.example","audiences":["a"],"algorithms":["none"]}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AUTHLEDGER_LOGIN_UPSTREAMS", path)
	_, err := LoadConfig()
	if err == nil || !strings.Contains(err.Error(), "AUTHLEDGER_LOGIN_UPSTREAMS") || !strings.Contains(err.Error(), `"none"`) {
		t.Fatalf("LoadConfig: %v", err)
	}
	if err := os.WriteFile(path, []byte(`[{"name":"corp","issuer":"https://idp.example","audiences":["a"],"clients":["svc-x"]}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(); err != nil {
		t.Fatal(err)
	}
	e := buildServed(t, false) // the grant registers without reaching the upstream
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/oauth-authorization-server", nil))
	if !strings.Contains(rec.Body.String(), "urn:ietf:params:oauth:grant-type:token-exchange") {
		t.Fatalf("metadata: %s", rec.Body)
	}
}
