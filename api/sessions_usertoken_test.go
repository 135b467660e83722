package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/authledger/authledger/api"
)

// RFC 9068 §5: the user APIs act for the subject of a user access token
// (one with sid, minted from a session). An M2M token names a client, not
// a user, so it is refused whatever its sub.
func TestUserSessionAPIsRefuseM2MTokens(t *testing.T) {
	t.Parallel()
	e := newTokEnv(t, tokEnvOpts{})
	s := e.startSession(t, e.m2m(t, e.login, api.SessionsCreateScope), "alice")
	if s.status != http.StatusCreated {
		t.Fatalf("start: %d %s", s.status, s.raw)
	}
	sid := s.body["session_id"].(string)
	for name, tok := range map[string]string{
		"the login service's token": e.m2m(t, e.login, api.SessionsCreateScope),
		"another client's token":    e.m2m(t, e.other, "things:read"),
	} {
		bearer := map[string]string{"Authorization": "Bearer " + tok}
		if r := e.do(t, nil, http.MethodGet, "/v1/sessions", nil, bearer); r.status != http.StatusUnauthorized ||
			r.body["type"] != api.ProblemTypeBase+"user-token-required" || !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token") {
			t.Errorf("GET /v1/sessions with %s: %d %s, want 401 user-token-required", name, r.status, r.raw)
		}
		if r := e.do(t, nil, http.MethodDelete, "/v1/sessions/"+sid, nil, bearer); r.status != http.StatusUnauthorized ||
			r.body["type"] != api.ProblemTypeBase+"user-token-required" {
			t.Errorf("DELETE /v1/sessions/{id} with %s: %d %s, want 401 user-token-required", name, r.status, r.raw)
		}
	}
	// alice's own token still lists her session: nothing was ended.
	r := e.do(t, nil, http.MethodGet, "/v1/sessions", nil, map[string]string{"Authorization": "Bearer " + s.body["access_token"].(string)})
	if r.status != http.StatusOK || !strings.Contains(r.raw, sid) {
		t.Fatalf("alice's own token: %d %s", r.status, r.raw)
	}
}

// Client ids and subjects live apart: a subject in the client-id namespace
// (the svc- prefix every client id carries) is refused, so no session
// subject can ever equal a client's sub.
func TestSessionSubjectsInTheClientIDNamespaceAreRefused(t *testing.T) {
	t.Parallel()
	e := newTokEnv(t, tokEnvOpts{})
	tok := e.m2m(t, e.login, api.SessionsCreateScope)
	for _, subject := range []string{string(e.other.Client.ID), string(e.login.Client.ID), "svc-anything", "SVC-Upper"} {
		r := e.startSession(t, tok, subject)
		if r.status != http.StatusBadRequest || r.body["type"] != api.ProblemTypeBase+"invalid-subject" {
			t.Errorf("subject %q: %d %s, want 400 invalid-subject", subject, r.status, r.raw)
		}
	}
	if r := e.startSession(t, tok, "service-desk-alice"); r.status != http.StatusCreated {
		t.Fatalf("an ordinary subject: %d %s", r.status, r.raw)
	}
}
