package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// chromium finds Debian's chromium. A missing browser fails the test (it
// never skips): make test installs it with scripts/chromium.sh.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: run scripts/chromium.sh (make test does)")
	return ""
}

// browserCtx starts headless Chromium with the flags that work in this
// sandbox and a fresh profile, and adds a virtual authenticator: CTAP2,
// internal transport, resident keys, user verification on.
func browserCtx(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1100, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	if _, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
		Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
		HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
	}}); err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return ctx
}

func run(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(tctx, actions...); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond (a page probe) until it holds or 30 s pass.
func eventually(t *testing.T, ctx context.Context, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		ok, seen := cond()
		if ok {
			return
		}
		last = seen
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v (last seen: %q)", what, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("%s: not within 30 s (last seen: %q)", what, last)
}

// textOf is the innerText of the first element matching the CSS
// selector, or "" when there is none (yet).
// click clicks the element once it is there and visible, trying again
// while a navigation replaces the document under the query.
func click(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
		cancel()
		if err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("click %s: %v", sel, err)
}

func textOf(ctx context.Context, sel string) string {
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	b, _ := json.Marshal(sel)
	s, _ := chromedp.Run(tctx, chromedp.Evaluate[string](`(document.querySelector(`+string(b)+`) || {innerText: ""}).innerText`))
	return s
}

func location(ctx context.Context) string {
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(tctx, chromedp.Location())
	return s
}

// screenshot saves the page as a test artifact (go test -artifacts keeps
// them), and in AUTHLEDGER_SCREENSHOT_DIR when set (docs/img).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dirs := []string{t.ArtifactDir()}
	if d := os.Getenv("AUTHLEDGER_SCREENSHOT_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		if err := os.WriteFile(filepath.Join(d, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshot %s", filepath.Join(dirs[0], name))
}

// loginService registers a trusted login service and starts another
// session of subject through POST /v1/sessions, returning the session id,
// the refresh token and the service's credentials.
func loginService(t *testing.T, srv *e2eharness.Server, subject string) (sessionID, refresh, clientID, secret string) {
	t.Helper()
	r := srv.CLI("services", "register", "--name", "other-app", "--scopes", "sessions:create")
	if r.Code != 0 {
		t.Fatalf("services register: %s", r.Stderr)
	}
	var reg struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &reg); err != nil {
		t.Fatalf("%v: %s", err, r.Stdout)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	eventuallyHTTP(t, func() (bool, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.BaseURL+"/oauth2/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(reg.ClientID, reg.ClientSecret)
		code, body := do(t, req)
		return code == http.StatusOK && json.Unmarshal(body, &tok) == nil, string(body)
	})
	req, _ := http.NewRequest(http.MethodPost, srv.BaseURL+"/v1/sessions", strings.NewReader(`{"subject":"`+subject+`","acr":"aal1","amr":["pwd"]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	code, body := do(t, req)
	if code != http.StatusCreated {
		t.Fatalf("POST /v1/sessions: %d %s", code, body)
	}
	var s struct {
		SessionID    string `json:"session_id"`
		RefreshToken string `json:"refresh_token"`
	}
	_ = json.Unmarshal(body, &s)
	return s.SessionID, s.RefreshToken, reg.ClientID, reg.ClientSecret
}

func do(t *testing.T, req *http.Request) (int, []byte) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func eventuallyHTTP(t *testing.T, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		ok, seen := cond()
		if ok {
			return
		}
		last = seen
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("not within 30 s: %s", last)
}

func TestAPersonEnrolsSignsInStepsUpAndRemovesTheirPasskey(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	base := fmt.Sprintf("http://localhost:%d", port)
	const maxAge = 5 * time.Second
	srv := e2eharness.Start(t, bin, e2eharness.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), Env: map[string]string{
		"AUTHLEDGER_ISSUER": base, "AUTHLEDGER_LOGIN": "passkeys", "AUTHLEDGER_STEPUP_MAX_AGE": maxAge.String(),
	}})
	srv.BaseURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx := browserCtx(t)

	// 1. Enrol with a link and register a passkey.
	r := srv.CLI("subjects", "enrol", "alice")
	if r.Code != 0 {
		t.Fatalf("subjects enrol: %d %s", r.Code, r.Stderr)
	}
	link := strings.TrimSpace(r.Stdout)
	if !strings.HasPrefix(link, base+"/login/enrol?code=") {
		t.Fatalf("link = %q", link)
	}
	run(t, ctx, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("register")))
	screenshot(t, ctx, "enrol.png")
	run(t, ctx, chromedp.SetValue(chromedp.ID("name"), "laptop"))
	click(t, ctx, "#register")
	eventually(t, ctx, "the passkey is created", func() (bool, string) {
		s := textOf(ctx, "#status")
		return strings.Contains(s, "Passkey created"), s
	})

	// 2. Sign in with it, sign out, and sign in again.
	signIn := func() time.Time {
		run(t, ctx, chromedp.Navigate(base+"/login"))
		click(t, ctx, "#signin")
		at := time.Now()
		eventually(t, ctx, "signed in and on /account", func() (bool, string) {
			l := location(ctx)
			return strings.HasSuffix(l, "/account") && textOf(ctx, "#subject") == "alice", l + " " + textOf(ctx, "#status")
		})
		return at
	}
	signIn()
	click(t, ctx, `#sessions button[data-action="end"]`)
	eventually(t, ctx, "signed out and back on /login", func() (bool, string) {
		l := location(ctx)
		return strings.HasSuffix(l, "/login") && textOf(ctx, "#signin") != "", l
	})
	run(t, ctx, chromedp.WaitVisible(chromedp.ID("signin")))
	screenshot(t, ctx, "login.png")
	signedIn := signIn()

	// 3. The account page shows the session and the activity.
	otherID, otherRefresh, clientID, secret := loginService(t, srv, "alice")
	run(t, ctx, chromedp.Reload())
	eventually(t, ctx, "both sessions and the sign-in are shown", func() (bool, string) {
		s, a := textOf(ctx, "#sessions"), textOf(ctx, "#activity")
		return strings.Contains(s, "this browser") && strings.Contains(s, otherID) && strings.Contains(a, "signed in") && strings.Contains(a, "passkey added"), s + " | " + a
	})
	screenshot(t, ctx, "account.png")

	// 4. Step-up, then end the other session: its refresh token now fails.
	// The sign-in must first be older than the step-up age.
	if wait := maxAge + time.Second - time.Since(signedIn); wait > 0 {
		time.Sleep(wait)
	}
	click(t, ctx, `tr[data-session="`+otherID+`"] button`)
	eventually(t, ctx, "the other session is gone from the page", func() (bool, string) {
		s := textOf(ctx, "#sessions")
		return s != "" && !strings.Contains(s, otherID) && strings.Contains(s, "this browser"), s + " | " + textOf(ctx, "#status")
	})
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {otherRefresh}}
	req, _ := http.NewRequest(http.MethodPost, srv.BaseURL+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, secret)
	if code, body := do(t, req); code != http.StatusBadRequest || !strings.Contains(string(body), "invalid_grant") {
		t.Fatalf("the ended session's refresh token: %d %s", code, body)
	}
	eventually(t, ctx, "the step-up is in the activity", func() (bool, string) {
		a := textOf(ctx, "#activity")
		return strings.Contains(a, "step-up"), a
	})

	// 5. Remove the passkey (step-up again if the last one is too old).
	click(t, ctx, `#passkeys button[data-action="remove"]`)
	eventually(t, ctx, "no passkey is left", func() (bool, string) {
		p := textOf(ctx, "#passkeys")
		return strings.Contains(p, "No passkeys."), p + " | " + textOf(ctx, "#status")
	})
	screenshot(t, ctx, "account-after.png")

	// 6. The ledger records every step, and audit verify passes.
	if v := srv.CLI("audit", "verify"); v.Code != 0 {
		t.Fatalf("audit verify: %d %s %s", v.Code, v.Stdout, v.Stderr)
	}
	export := srv.CLI("audit", "export")
	if export.Code != 0 {
		t.Fatal(export.Stderr)
	}
	counts := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(export.Stdout), "\n") {
		var e struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		counts[e.Type]++
	}
	if counts["session.started.v1"] < 3 || counts["session.ended.v1"] < 2 {
		t.Errorf("two passkey sign-ins, a sign-out and the ended other session should be recorded: %v", counts)
	}
	for _, typ := range []string{"passkey.enrolment_issued.v1", "passkey.registered.v1", "passkey.enrolment_redeemed.v1",
		"passkey.used.v1", "passkey.signin_succeeded.v1", "session.started.v1", "session.elevated.v1",
		"refreshtoken.elevated.v1", "session.ended.v1", "passkey.removed.v1"} {
		if counts[typ] == 0 {
			t.Errorf("the ledger holds no %s: %v", typ, counts)
		}
	}
	if counts["passkey.signin_succeeded.v1"] < 3 {
		t.Errorf("two sign-ins and a step-up should be recorded: %v", counts)
	}
}
