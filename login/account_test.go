package login_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/passkey"
	"github.com/authledger/authledger/login"
)

func TestTheAccountPageShowsPasskeysSessionsAndActivity(t *testing.T) {
	t.Parallel()
	f, b, a := enrolled(t)
	mustStatus(t, f.browser().do(http.MethodGet, "/account", nil), http.StatusSeeOther)
	mustStatus(t, b.signIn(a), http.StatusOK)
	res := b.do(http.MethodGet, "/account", nil)
	mustStatus(t, res, http.StatusOK)
	body := string(res.body)
	for _, want := range []string{"alice", "test key", "this browser", "signed in", "passkey added"} {
		if !strings.Contains(body, want) {
			t.Errorf("the account page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>") || res.header.Get("Content-Security-Policy") != login.ContentSecurityPolicy || res.header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", res.header)
	}
}

func TestRemovingAPasskeyNeedsStepUp(t *testing.T) {
	t.Parallel()
	f, b, a := enrolled(t)
	mustStatus(t, b.signIn(a), http.StatusOK)
	cred := b64.EncodeToString(a.credID)
	f.clock.Add(6 * time.Minute)
	res := b.post("/account/passkeys/remove", map[string]string{"credential": cred})
	mustStatus(t, res, http.StatusUnauthorized)
	if w := res.header.Get("WWW-Authenticate"); !strings.Contains(w, `error="insufficient_user_authentication"`) ||
		!strings.Contains(w, `acr_values="`+commands.ACRUserVerified+`"`) || !strings.Contains(w, "max_age=300") {
		t.Fatalf("WWW-Authenticate = %q", w)
	}
	if f.count(passkey.TypeRemoved) != 0 {
		t.Fatal("removed without step-up")
	}
	opts := b.post("/login/passkey/stepup/options", map[string]string{})
	mustStatus(t, b.post("/login/passkey/stepup", a.get(opts.body)), http.StatusOK)
	mustStatus(t, b.post("/account/passkeys/remove", map[string]string{"credential": cred}), http.StatusNoContent)
	if f.count(passkey.TypeRemoved) != 1 {
		t.Fatalf("ledger: %v", f.types())
	}
	// The removed passkey signs in no more.
	mustStatus(t, f.browser().signIn(a), http.StatusUnauthorized)
}

func TestRenamingAPasskey(t *testing.T) {
	t.Parallel()
	f, b, a := enrolled(t)
	mustStatus(t, b.signIn(a), http.StatusOK)
	mustStatus(t, b.post("/account/passkeys/rename", map[string]string{"credential": b64.EncodeToString(a.credID), "name": "work laptop"}), http.StatusNoContent)
	mustStatus(t, b.post("/account/passkeys/rename", map[string]string{"credential": "nope", "name": "x"}), http.StatusNotFound)
	if !strings.Contains(string(b.do(http.MethodGet, "/account", nil).body), "work laptop") {
		t.Fatal("the new name is not shown")
	}
	if f.count(passkey.TypeRenamed) != 1 {
		t.Fatal("no renamed event")
	}
}

func TestEndingOtherSessionsNeedsStepUpAndKillsTheirRefreshTokens(t *testing.T) {
	t.Parallel()
	f, b, a := enrolled(t)
	ctx := context.Background()
	// Another session of alice, started by a login service holding its
	// refresh token.
	other, err := f.tok.StartSession.Handle(ctx, commands.StartSession{ClientID: "svc-app", Subject: "alice", ACR: "aal1"}, commands.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	mustStatus(t, b.signIn(a), http.StatusOK)
	f.clock.Add(6 * time.Minute)
	mustStatus(t, b.post("/account/sessions/end-others", map[string]string{}), http.StatusUnauthorized)
	mustStatus(t, b.post("/account/sessions/end", map[string]string{"id": other.SessionID}), http.StatusUnauthorized)
	opts := b.post("/login/passkey/stepup/options", map[string]string{})
	mustStatus(t, b.post("/login/passkey/stepup", a.get(opts.body)), http.StatusOK)
	mustStatus(t, b.post("/account/sessions/end-others", map[string]string{}), http.StatusOK)
	if _, err := f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: other.RefreshToken, ClientID: "svc-app"}, commands.Metadata{}); err == nil {
		t.Fatal("the ended session's refresh token still works")
	}
	// This browser's session lives on.
	if _, err := f.tok.Resolver.Resolve(ctx, b.cookies[api.SessionCookie]); err != nil {
		t.Fatalf("the current session ended too: %v", err)
	}
	// Signing out this session needs no step-up.
	rec, _ := f.tok.Resolver.Resolve(ctx, b.cookies[api.SessionCookie])
	f.clock.Add(6 * time.Minute)
	mustStatus(t, b.post("/account/sessions/end", map[string]string{"id": rec.ID}), http.StatusNoContent)
}

func TestAccountActionsRefuseAnotherOrigin(t *testing.T) {
	t.Parallel()
	f, b, a := enrolled(t)
	mustStatus(t, b.signIn(a), http.StatusOK)
	b.origin = "https://evil.example"
	mustStatus(t, b.post("/account/sessions/end-others", map[string]string{}), http.StatusForbidden)
	mustStatus(t, b.post("/account/passkeys/rename", map[string]string{"credential": b64.EncodeToString(a.credID), "name": "pwned"}), http.StatusForbidden)
	if f.count(passkey.TypeRenamed) != 0 {
		t.Fatal("a cross-origin rename went through")
	}
}
