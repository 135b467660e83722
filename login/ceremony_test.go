package login_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/passkey"
	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/login"
)

// enrolled is a fixture with alice holding one registered passkey.
func enrolled(t *testing.T) (*fixture, *browser, *softAuthenticator) {
	t.Helper()
	f := newFixture(t)
	b := f.browser()
	a := newAuthenticator(t, rpID, origin)
	mustStatus(t, b.register(a, f.link("alice")), http.StatusCreated)
	return f, b, a
}

func TestAnEnrolmentLinkRegistersAPasskeyThatSignsIn(t *testing.T) {
	t.Parallel()
	f, b, a := enrolled(t)
	if string(a.user) != "alice" {
		t.Fatalf("user handle = %q, want the subject", a.user)
	}
	res := b.signIn(a)
	mustStatus(t, res, http.StatusOK)
	tok := b.cookies[api.SessionCookie]
	if tok == "" {
		t.Fatal("no session cookie after sign-in")
	}
	rec, err := f.tok.Resolver.Resolve(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Subject != "alice" || rec.ACR != commands.ACRUserVerified || strings.Join(rec.AMR, " ") != "hwk user" || rec.ClientID != commands.LoginClientID {
		t.Fatalf("session = %+v", rec)
	}
	for _, typ := range []string{passkey.TypeEnrolmentIssued, passkey.TypeRegistered, passkey.TypeEnrolmentRedeemed,
		passkey.TypeUsed, passkey.TypeSignInSucceeded, session.TypeStarted} {
		if f.count(typ) != 1 {
			t.Errorf("ledger holds %d %s, want 1: %v", f.count(typ), typ, f.types())
		}
	}
	if _, ok := b.cookies[login.CeremonyCookie]; ok {
		t.Error("the ceremony cookie outlived its ceremony")
	}
	// Its events carry the subject as actor, never a token.
	recs, _ := f.store.ReadStream(context.Background(), passkey.Stream("alice"))
	for _, r := range recs {
		if !strings.Contains(string(r.Metadata), `"actor":"subject:alice"`) {
			t.Errorf("%s metadata = %s", r.Type, r.Metadata)
		}
		if strings.Contains(string(r.Data), tok) {
			t.Errorf("%s holds the session token", r.Type)
		}
	}
}

func TestTheSignInPagesAreLockedDown(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	b := f.browser()
	for _, path := range []string{"/login", "/login/enrol", "/login/static/login.js"} {
		res := b.do(http.MethodGet, path, nil)
		mustStatus(t, res, http.StatusOK)
		h := res.header
		if h.Get("Cache-Control") != "no-store" || h.Get("X-Frame-Options") != "DENY" || h.Get("Content-Security-Policy") != login.ContentSecurityPolicy {
			t.Errorf("%s headers = %v", path, h)
		}
		if path != "/login/static/login.js" && strings.Contains(string(res.body), "<script>") {
			t.Errorf("%s holds an inline script", path)
		}
	}
	if !strings.Contains(login.ContentSecurityPolicy, "script-src 'self'") || strings.Contains(login.ContentSecurityPolicy, "unsafe-inline") {
		t.Fatalf("CSP = %s", login.ContentSecurityPolicy)
	}
	mustStatus(t, b.do(http.MethodGet, "/login/static/..%2Fpages.go", nil), http.StatusNotFound)
}

func TestAnUnsafeRequestFromAnotherOriginIsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, o := range []string{"", "https://evil.example", "http://localhost:9999"} {
		b := f.browser()
		b.origin = o
		res := b.post("/login/passkey/signin/options", map[string]string{})
		if o == "" {
			// the helper sets no header for ""
			mustStatus(t, res, http.StatusForbidden)
			continue
		}
		mustStatus(t, res, http.StatusForbidden)
	}
}

func TestAChallengeIsSingleUse(t *testing.T) {
	t.Parallel()
	f, b, a := enrolled(t)
	opts := b.post("/login/passkey/signin/options", map[string]string{})
	mustStatus(t, opts, http.StatusOK)
	ceremony := b.cookies[login.CeremonyCookie]
	mustStatus(t, b.post("/login/passkey/signin", a.get(opts.body)), http.StatusOK)
	// A replay: the same ceremony cookie and a fresh, valid assertion
	// over the same challenge.
	b.cookies[login.CeremonyCookie] = ceremony
	res := b.post("/login/passkey/signin", a.get(opts.body))
	mustStatus(t, res, http.StatusBadRequest)
	if f.count(session.TypeStarted) != 1 {
		t.Fatalf("a replayed challenge started a session: %v", f.types())
	}
	if failures(t, f, "") != 1 {
		t.Fatalf("the replay was not recorded: %v", f.types())
	}
}

func TestAChallengeExpiresAfterFiveMinutes(t *testing.T) {
	t.Parallel()
	f, b, a := enrolled(t)
	opts := b.post("/login/passkey/signin/options", map[string]string{})
	f.clock.Add(login.ChallengeLifetime)
	mustStatus(t, b.post("/login/passkey/signin", a.get(opts.body)), http.StatusBadRequest)
	if f.count(session.TypeStarted) != 0 {
		t.Fatal("an expired challenge started a session")
	}
	// Just inside the lifetime it works.
	opts = b.post("/login/passkey/signin/options", map[string]string{})
	f.clock.Add(login.ChallengeLifetime - time.Second)
	mustStatus(t, b.post("/login/passkey/signin", a.get(opts.body)), http.StatusOK)
}

// failures reads the reasons of recorded sign-in failures of subject ("":
// the shared failures stream).
func failureReasons(t *testing.T, f *fixture, subject string) []string {
	t.Helper()
	stream := passkey.FailuresStream
	if subject != "" {
		stream = passkey.Stream(subject)
	}
	recs, err := f.store.ReadStream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		if r.Type != passkey.TypeSignInFailed {
			continue
		}
		var e passkey.SignInFailed
		if err := json.Unmarshal(r.Data, &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e.Reason)
	}
	return out
}

func failures(t *testing.T, f *fixture, subject string) int {
	return len(failureReasons(t, f, subject))
}

func TestAnAssertionThatBreaksARuleIsRefusedAndRecorded(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		breakA func(a *softAuthenticator)
		reason string
	}{
		{"from another origin", func(a *softAuthenticator) { a.origin = "https://evil.example" }, passkey.ReasonVerification},
		{"for another RP id", func(a *softAuthenticator) { a.rpID = "evil.example" }, passkey.ReasonVerification},
		{"without user verification", func(a *softAuthenticator) { a.noUV = true }, passkey.ReasonUserVerification},
		{"with a sign counter that went back", func(a *softAuthenticator) { a.counter = 0 }, passkey.ReasonCounterRegression},
		{"with a forged signature key", func(a *softAuthenticator) {
			other := newAuthenticator(a.t, rpID, origin)
			a.key = other.key
		}, passkey.ReasonVerification},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, b, a := enrolled(t)
			mustStatus(t, b.signIn(a), http.StatusOK) // counter 1
			if tc.reason == passkey.ReasonCounterRegression {
				a.counter = 5
				mustStatus(t, b.signIn(a), http.StatusOK) // counter 6
			}
			tc.breakA(a)
			fresh := f.browser()
			res := fresh.signIn(a)
			mustStatus(t, res, http.StatusUnauthorized)
			if _, ok := fresh.cookies[api.SessionCookie]; ok {
				t.Fatal("a refused sign-in set a session cookie")
			}
			if got := failureReasons(t, f, "alice"); len(got) != 1 || got[0] != tc.reason {
				t.Fatalf("recorded reasons = %v, want [%s]", got, tc.reason)
			}
			wantWarnings := 0
			if tc.reason == passkey.ReasonCounterRegression {
				wantWarnings = 1
			}
			if f.count(passkey.TypeCloneWarning) != wantWarnings {
				t.Fatalf("clone warnings = %d, want %d", f.count(passkey.TypeCloneWarning), wantWarnings)
			}
		})
	}
}

func TestARegistrationWithoutUserVerificationIsRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		breakA func(a *softAuthenticator)
	}{
		{"without user verification", func(a *softAuthenticator) { a.noUV = true }},
		{"from another origin", func(a *softAuthenticator) { a.origin = "https://evil.example" }},
		{"for another RP id", func(a *softAuthenticator) { a.rpID = "evil.example" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			b := f.browser()
			a := newAuthenticator(t, rpID, origin)
			tc.breakA(a)
			code := f.link("alice")
			mustStatus(t, b.register(a, code), http.StatusBadRequest)
			if f.count(passkey.TypeRegistered) != 0 || f.count(passkey.TypeEnrolmentRedeemed) != 0 {
				t.Fatalf("a refused registration was recorded: %v", f.types())
			}
			// The link was not spent: a good authenticator still enrols with it.
			mustStatus(t, b.register(newAuthenticator(t, rpID, origin), code), http.StatusCreated)
		})
	}
}

func TestAnotherSubjectsCredentialCannotSignInAsAlice(t *testing.T) {
	t.Parallel()
	f, b, alice := enrolled(t)
	bob := newAuthenticator(t, rpID, origin)
	mustStatus(t, f.browser().register(bob, f.link("bob")), http.StatusCreated)

	// Bob's authenticator claims alice's user handle.
	bob.user = []byte("alice")
	mustStatus(t, f.browser().signIn(bob), http.StatusUnauthorized)
	if got := failureReasons(t, f, "alice"); len(got) != 1 || got[0] != passkey.ReasonUnknownCredential {
		t.Fatalf("reasons = %v", got)
	}
	// A step-up of alice's session with bob's passkey is refused.
	mustStatus(t, b.signIn(alice), http.StatusOK)
	opts := b.post("/login/passkey/stepup/options", map[string]string{})
	mustStatus(t, opts, http.StatusOK)
	bob.user = []byte("bob")
	mustStatus(t, b.post("/login/passkey/stepup", bob.get(opts.body)), http.StatusUnauthorized)
	if got := failureReasons(t, f, "alice"); len(got) != 2 || got[1] != passkey.ReasonWrongSubject {
		t.Fatalf("reasons = %v", got)
	}
	if f.count(session.TypeElevated) != 0 {
		t.Fatal("bob's passkey raised alice's session")
	}
}

func TestAnEnrolmentLinkIsSingleUseAndExpires(t *testing.T) {
	t.Parallel()
	t.Run("reuse", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		code := f.link("alice")
		mustStatus(t, f.browser().register(newAuthenticator(t, rpID, origin), code), http.StatusCreated)
		res := f.browser().post("/login/passkey/register/options", map[string]string{"code": code})
		mustStatus(t, res, http.StatusForbidden)
	})
	t.Run("two ceremonies racing on one link", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		code := f.link("alice")
		b1, b2 := f.browser(), f.browser()
		a1, a2 := newAuthenticator(t, rpID, origin), newAuthenticator(t, rpID, origin)
		o1 := b1.post("/login/passkey/register/options", map[string]string{"code": code})
		o2 := b2.post("/login/passkey/register/options", map[string]string{"code": code})
		mustStatus(t, b1.post("/login/passkey/register", map[string]any{"name": "a", "credential": a1.create(o1.body)}), http.StatusCreated)
		mustStatus(t, b2.post("/login/passkey/register", map[string]any{"name": "b", "credential": a2.create(o2.body)}), http.StatusForbidden)
		if f.count(passkey.TypeRegistered) != 1 {
			t.Fatalf("one link registered %d passkeys", f.count(passkey.TypeRegistered))
		}
	})
	t.Run("expiry", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		code := f.link("alice")
		f.clock.Add(passkey.EnrolmentLifetime)
		mustStatus(t, f.browser().post("/login/passkey/register/options", map[string]string{"code": code}), http.StatusForbidden)
	})
	t.Run("a forged secret", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		code := f.link("alice")
		id, _, _ := strings.Cut(code, ".")
		forged := id + "." + strings.Repeat("A", 43)
		mustStatus(t, f.browser().post("/login/passkey/register/options", map[string]string{"code": forged}), http.StatusForbidden)
	})
}

func TestALaterPasskeyNeedsARecentVerifiedSession(t *testing.T) {
	t.Parallel()
	f, b, a := enrolled(t)
	// Without a session: refused.
	mustStatus(t, f.browser().post("/login/passkey/register/options", map[string]string{}), http.StatusUnauthorized)
	mustStatus(t, b.signIn(a), http.StatusOK)
	second := newAuthenticator(t, rpID, origin)
	opts := b.post("/login/passkey/register/options", map[string]string{})
	mustStatus(t, opts, http.StatusOK)
	mustStatus(t, b.post("/login/passkey/register", map[string]any{"name": "phone", "credential": second.create(opts.body)}), http.StatusCreated)
	// Past the step-up age, refused with RFC 9470's challenge.
	f.clock.Add(6 * time.Minute)
	res := b.post("/login/passkey/register/options", map[string]string{})
	mustStatus(t, res, http.StatusUnauthorized)
	if w := res.header.Get("WWW-Authenticate"); !strings.Contains(w, `error="insufficient_user_authentication"`) || !strings.Contains(w, "max_age=300") || !strings.Contains(w, "acr_values=") {
		t.Fatalf("WWW-Authenticate = %q", w)
	}
}

func TestStepUpRotatesTheSessionTokenAndRaisesAuthTime(t *testing.T) {
	t.Parallel()
	f, b, a := enrolled(t)
	mustStatus(t, b.signIn(a), http.StatusOK)
	before := b.cookies[api.SessionCookie]
	old, err := f.tok.Resolver.Resolve(context.Background(), before)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(10 * time.Minute)
	opts := b.post("/login/passkey/stepup/options", map[string]string{})
	mustStatus(t, opts, http.StatusOK)
	mustStatus(t, b.post("/login/passkey/stepup", a.get(opts.body)), http.StatusOK)
	after := b.cookies[api.SessionCookie]
	if after == "" || after == before {
		t.Fatal("step-up did not rotate the session token")
	}
	if _, err := f.tok.Resolver.Resolve(context.Background(), before); err == nil {
		t.Fatal("the session token from before the step-up still works")
	}
	rec, err := f.tok.Resolver.Resolve(context.Background(), after)
	if err != nil {
		t.Fatal(err)
	}
	if rec.ID != old.ID || !rec.AuthTime.After(old.AuthTime) {
		t.Fatalf("auth_time %v → %v", old.AuthTime, rec.AuthTime)
	}
	if f.count(session.TypeElevated) != 1 {
		t.Fatalf("ledger: %v", f.types())
	}
}

func TestFailedSignInsAreRateLimited(t *testing.T) {
	t.Parallel()
	f, _, a := enrolled(t)
	a.noUV = true
	limited := false
	for i := 0; i < 400 && !limited; i++ {
		res := f.browser().signIn(a)
		switch res.status {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			limited = res.header.Get("Retry-After") != ""
		default:
			t.Fatalf("status %d: %s", res.status, res.body)
		}
	}
	if !limited {
		t.Fatal("400 failed sign-ins of one credential from one address were never refused with 429 and Retry-After")
	}
}

func TestSignOutEndsTheSession(t *testing.T) {
	t.Parallel()
	f, b, a := enrolled(t)
	mustStatus(t, b.signIn(a), http.StatusOK)
	tok := b.cookies[api.SessionCookie]
	mustStatus(t, b.post("/login/logout", map[string]string{}), http.StatusNoContent)
	if _, ok := b.cookies[api.SessionCookie]; ok {
		t.Fatal("the session cookie was not cleared")
	}
	if _, err := f.tok.Resolver.Resolve(context.Background(), tok); err == nil {
		t.Fatal("the session still resolves after sign-out")
	}
}

func TestTheRelyingPartyComesFromTheIssuer(t *testing.T) {
	t.Parallel()
	rp, err := login.RelyingPartyFor("https://auth.example.com", "", nil)
	if err != nil || rp.ID != "auth.example.com" || len(rp.Origins) != 1 || rp.Origins[0] != "https://auth.example.com" {
		t.Fatalf("rp = %+v, %v", rp, err)
	}
	rp, err = login.RelyingPartyFor("https://auth.example.com", "example.com", []string{"https://app.example.com", "https://auth.example.com"})
	if err != nil || rp.ID != "example.com" || len(rp.Origins) != 2 {
		t.Fatalf("override: %+v, %v", rp, err)
	}
	for _, iss := range []string{"http://127.0.0.1:8080", "http://[::1]:8080"} {
		_, err = login.RelyingPartyFor(iss, "", nil)
		if !errors.Is(err, login.ErrIPRelyingParty) || !strings.Contains(err.Error(), "AUTHLEDGER_LOGIN_RP_ID") {
			t.Fatalf("%s: %v", iss, err)
		}
	}
	if rp, err := login.RelyingPartyFor("http://127.0.0.1:8080", "localhost", []string{"http://localhost:8080"}); err != nil || rp.ID != "localhost" {
		t.Fatalf("an IP issuer with an RP id: %+v, %v", rp, err)
	}
	if _, err := login.RelyingPartyFor("https://auth.example.com", "", []string{"https://other.test"}); err == nil {
		t.Fatal("an origin outside the RP id was accepted")
	}
}
