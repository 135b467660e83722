package security_test

import (
	"net/http"
	"strings"
	"testing"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// Issue 10 item 4 on the real binary: an M2M token whose client id equals
// a session subject must not list or delete that subject's sessions. Such
// a subject cannot even be started (client ids and subjects live in
// separate namespaces), and M2M tokens are refused by the user APIs
// whatever their sub.
func TestM2MTokenCannotActAsASessionSubject(t *testing.T) {
	t.Parallel()
	srv := e2eharness.Start(t, realBinary(t), e2eharness.Options{Env: map[string]string{"AUTHLEDGER_ISSUER": "https://auth.security.test"}})
	login := binRegister(t, srv, "--name", "login", "--scopes", "sessions:create")
	victim := binRegister(t, srv, "--name", "victim", "--scopes", "things:read")
	loginTok := binM2M(t, srv, login, "sessions:create")
	victimTok := binM2M(t, srv, victim, "things:read")

	// A session whose subject is the victim client's id is refused.
	r := binBearer(t, srv, http.MethodPost, "/v1/sessions", loginTok, `{"subject":"`+victim.ClientID+`","amr":["hwk"],"acr":"aal1"}`)
	if r.status != http.StatusBadRequest || r.body["type"] != "https://authledger.dev/problems/invalid-subject" {
		t.Fatalf("session for subject %s: %d %s, want 400 invalid-subject", victim.ClientID, r.status, r.raw)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("refusal Content-Type %q", ct)
	}

	// alice's session exists; no M2M token can see or end it.
	s := binBearer(t, srv, http.MethodPost, "/v1/sessions", loginTok, `{"subject":"alice","amr":["hwk"],"acr":"aal1"}`)
	if s.status != http.StatusCreated {
		t.Fatalf("start alice: %d %s", s.status, s.raw)
	}
	sid, userTok := s.body["session_id"].(string), s.body["access_token"].(string)
	for name, tok := range map[string]string{"victim": victimTok, "login service": loginTok} {
		if r := binBearer(t, srv, http.MethodGet, "/v1/sessions", tok, ""); r.status != http.StatusUnauthorized || strings.Contains(r.raw, sid) {
			t.Errorf("GET /v1/sessions with the %s's M2M token: %d %s, want 401", name, r.status, r.raw)
		}
		if r := binBearer(t, srv, http.MethodDelete, "/v1/sessions/"+sid, tok, ""); r.status != http.StatusUnauthorized {
			t.Errorf("DELETE /v1/sessions/%s with the %s's M2M token: %d %s, want 401", sid, name, r.status, r.raw)
		}
	}
	if r := binBearer(t, srv, http.MethodGet, "/v1/sessions", userTok, ""); r.status != http.StatusOK || !strings.Contains(r.raw, sid) {
		t.Fatalf("alice's own token after the attempts: %d %s, want her session listed", r.status, r.raw)
	}
}
