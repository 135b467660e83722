package chaos

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
	"github.com/authledger/authledger/tests/infisicalfake"
)

// The Infisical outages under the real binary, against the in-process fake
// (no Infisical server can run here): down at start, down while serving,
// slow, flapping, and a key rotation while it is down.

const (
	chaosProject  = "proj-chaos"
	chaosClientID = "chaos-client"
	chaosSecret   = "chaos-client-secret-8d1f"
)

func startInfisicalFake(t *testing.T) *infisicalfake.Server {
	t.Helper()
	f := infisicalfake.New(map[string][]string{chaosProject: {"prod"}})
	f.AddIdentity(infisicalfake.Identity{ID: "id-prod", ClientID: chaosClientID, ClientSecret: chaosSecret,
		Privileges: []infisicalfake.Privilege{{Project: chaosProject, Environment: "prod", Path: "/authledger", Write: true}}})
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	return f
}

func infisicalServerEnv(f *infisicalfake.Server, extra map[string]string) map[string]string {
	env := map[string]string{
		"AUTHLEDGER_SECRETS": fmt.Sprintf("infisical://%s/%s?env=prod&path=/authledger&insecure_http=1",
			strings.TrimPrefix(f.URL(), "http://"), chaosProject),
		"AUTHLEDGER_INFISICAL_CLIENT_ID":     chaosClientID,
		"AUTHLEDGER_INFISICAL_CLIENT_SECRET": chaosSecret,
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// readyz is /readyz's status code and body.
func readyzBody(t *testing.T, srv *e2eharness.Server) (int, string) {
	t.Helper()
	resp, err := srv.Get("/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestInfisicalDownAtStartRefusesToStart(t *testing.T) {
	f := startInfisicalFake(t)
	f.Stop()
	env := append(e2eharness.BaseEnv(), "AUTHLEDGER_DATA_DIR="+t.TempDir(), "AUTHLEDGER_LISTEN=127.0.0.1:0")
	for k, v := range infisicalServerEnv(f, nil) {
		env = append(env, k+"="+v)
	}
	res := e2eharness.Run(t, bin, env, "serve")
	out := res.Stdout + res.Stderr
	if res.Code == 0 || !strings.Contains(out, "start-up refused") || !strings.Contains(out, "provider unavailable") {
		t.Fatalf("exit %d: %s", res.Code, out)
	}
	if strings.Contains(out, chaosSecret) {
		t.Fatal("the refusal printed the client secret")
	}
	t.Logf("refused as designed: %s", strings.TrimSpace(out))
}

// startSession makes a login client, its session and refresh token.
func startInfisicalSession(t *testing.T, srv *e2eharness.Server) (client, string) {
	t.Helper()
	login := register(t, srv, "--name", "login", "--scopes", "sessions:create read")
	cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"sessions:create"}}
	var m2m string
	eventually(t, "client known to the server", func() error {
		code, out, err := post(http.DefaultClient, srv.BaseURL, "/oauth2/token", login, cc)
		if err != nil || code != 200 {
			return fmt.Errorf("%d %v %v", code, out, err)
		}
		m2m = out["access_token"].(string)
		return nil
	})
	var rt string
	// The registry folds a new client a moment after the ledger has it.
	eventually(t, "a session for the login client", func() error {
		req, _ := http.NewRequest(http.MethodPost, srv.BaseURL+"/v1/sessions", strings.NewReader(`{"subject":"alice","amr":["pwd"],"acr":"aal1"}`))
		req.Header.Set("Authorization", "Bearer "+m2m)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var sess map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&sess)
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("start session: %d %v", resp.StatusCode, sess)
		}
		rt = sess["refresh_token"].(string)
		return nil
	})
	return login, rt
}

// traffic runs n rounds of client_credentials and refresh grants and
// returns the jtis acknowledged and the refresh token left.
func traffic(t *testing.T, srv *e2eharness.Server, y *tally, c client, rt string, n int, between func(i int)) ([]string, string) {
	t.Helper()
	hc := &http.Client{Timeout: 30 * time.Second}
	var jtis []string
	for i := range n {
		if between != nil {
			between(i)
		}
		code, out, err := post(hc, srv.BaseURL, "/oauth2/token", c, url.Values{"grant_type": {"client_credentials"}})
		switch {
		case err != nil:
			y.fail("transport")
		case code != 200:
			y.fail(fmt.Sprintf("client_credentials %d %v", code, out["error"]))
		default:
			y.ack()
			jtis = append(jtis, jti(t, out["access_token"].(string)))
		}
		code, out, err = post(hc, srv.BaseURL, "/oauth2/token", c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
		switch {
		case err != nil:
			y.fail("transport")
		case code != 200:
			y.fail(fmt.Sprintf("refresh %d %v", code, out["error"]))
		default:
			y.ack()
			rt = out["refresh_token"].(string)
		}
	}
	return jtis, rt
}

func checkNothingLost(t *testing.T, srv *e2eharness.Server, y *tally, jtis []string) {
	t.Helper()
	if exit, err := srv.Stop(); err != nil || exit != 0 {
		t.Errorf("stop: exit %d %v", exit, err)
	}
	streams := ledgerStreams(t, srv)
	lost := 0
	for _, j := range jtis {
		if !streams["token-"+j] {
			lost++
		}
	}
	y.report(t, lost)
	if lost > 0 {
		t.Errorf("%d acknowledged tokens are not in the ledger", lost)
	}
	if len(y.errors) > 0 {
		t.Errorf("token traffic failed: %v", y.errors)
	}
	if res := srv.CLI("audit", "verify"); res.Code != 0 {
		t.Errorf("audit verify: %s %s", res.Stdout, res.Stderr)
	}
}

// Down while serving: tokens keep flowing from what is cached, /readyz
// says degraded with the reason, and ok again after recovery.
func TestInfisicalDownWhileServing(t *testing.T) {
	f := startInfisicalFake(t)
	srv := e2eharness.Start(t, bin, e2eharness.Options{Env: infisicalServerEnv(f, nil)})
	c, rt := startInfisicalSession(t, srv)
	var y tally
	f.Stop()
	jtis, rt := traffic(t, srv, &y, c, rt, 60, nil)
	eventually(t, "readyz degraded while Infisical is down", func() error {
		code, body := readyzBody(t, srv)
		if code != 200 || !strings.Contains(body, `"secrets":"degraded"`) || !strings.Contains(body, "serving cached secrets") {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "readyz ok after recovery", func() error {
		code, body := readyzBody(t, srv)
		if code != 200 || !strings.Contains(body, `"secrets":"ok"`) {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	more, _ := traffic(t, srv, &y, c, rt, 10, nil)
	checkNothingLost(t, srv, &y, append(jtis, more...))
}

// Slow: every Infisical answer takes 3 s; serving never waits on it and
// /readyz keeps answering promptly (its probe runs in the background).
func TestASlowInfisical(t *testing.T) {
	f := startInfisicalFake(t)
	srv := e2eharness.Start(t, bin, e2eharness.Options{Env: infisicalServerEnv(f, nil)})
	c, rt := startInfisicalSession(t, srv)
	f.SetLatency(3 * time.Second)
	var y tally
	jtis, _ := traffic(t, srv, &y, c, rt, 40, func(int) {
		if code, body := readyzBody(t, srv); code != 200 {
			y.fail(fmt.Sprintf("readyz %d %s", code, body))
		}
	})
	f.SetLatency(0)
	checkNothingLost(t, srv, &y, jtis)
}

// Flapping: Infisical goes down and up every 1.5 s while the sync worker
// calls it every 100 ms; the breaker opens and closes (the metric shows
// both) and token traffic never notices.
func TestAFlappingInfisical(t *testing.T) {
	f := startInfisicalFake(t)
	srv := e2eharness.Start(t, bin, e2eharness.Options{Env: infisicalServerEnv(f, map[string]string{
		"AUTHLEDGER_INFISICAL_SYNC_EVERY":       "100ms",
		"AUTHLEDGER_INFISICAL_BREAKER_OPEN_FOR": "500ms",
	})})
	c, rt := startInfisicalSession(t, srv)
	var y tally
	var jtis []string
	up := true
	last := time.Now()
	for end := time.Now().Add(9 * time.Second); time.Now().Before(end); time.Sleep(150 * time.Millisecond) {
		if time.Since(last) >= 1500*time.Millisecond {
			last = time.Now()
			if up {
				f.Stop()
			} else if err := f.Start(); err != nil {
				t.Fatal(err)
			}
			up = !up
		}
		var more []string
		more, rt = traffic(t, srv, &y, c, rt, 1, nil)
		jtis = append(jtis, more...)
	}
	if !up {
		if err := f.Start(); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the breaker opened and closed again", func() error {
		opened := scrapeMetric(t, srv.BaseURL, `authledger_infisical_breaker_transitions_total{to="open"}`)
		closed := scrapeMetric(t, srv.BaseURL, `authledger_infisical_breaker_transitions_total{to="closed"}`)
		if opened < 1 || closed < 1 {
			return fmt.Errorf("transitions: open %v, closed %v", opened, closed)
		}
		t.Logf("breaker transitions: open %v, closed %v", opened, closed)
		return nil
	})
	checkNothingLost(t, srv, &y, jtis)
}

// A rotation asked for while Infisical is down fails safely: the command
// fails, the ledger keeps its keys, the active key keeps signing; the same
// command after recovery succeeds and the new key's private half is in
// Infisical at the version the ledger records.
func TestAKeyRotationWhileInfisicalIsDown(t *testing.T) {
	f := startInfisicalFake(t)
	srv := e2eharness.Start(t, bin, e2eharness.Options{Env: infisicalServerEnv(f, nil)})
	c, rt := startInfisicalSession(t, srv)
	before := srv.CLI("keys", "list", "--json")
	f.Stop()
	var y tally
	res := srv.CLI("keys", "rotate", "--immediately")
	if res.Code == 0 || !strings.Contains(res.Stderr, "provider unavailable") {
		t.Fatalf("rotate while down: exit %d %s %s", res.Code, res.Stdout, res.Stderr)
	}
	if after := srv.CLI("keys", "list", "--json"); after.Stdout != before.Stdout {
		t.Fatalf("the ring changed although the rotation failed:\n%s\n%s", before.Stdout, after.Stdout)
	}
	jtis, rt := traffic(t, srv, &y, c, rt, 10, nil) // the old key keeps signing
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the rotation retried after recovery", func() error {
		if res := srv.CLI("keys", "rotate", "--immediately"); res.Code != 0 {
			return fmt.Errorf("exit %d %s", res.Code, res.Stderr)
		}
		return nil
	})
	checkKeysReadBack(t, srv, f, 2)
	more, _ := traffic(t, srv, &y, c, rt, 5, nil)
	checkNothingLost(t, srv, &y, append(jtis, more...))
}

// checkKeysReadBack: every signing-key reference the ledger holds is in
// Infisical at exactly that version.
func checkKeysReadBack(t *testing.T, srv *e2eharness.Server, f *infisicalfake.Server, atLeast int) {
	t.Helper()
	res := srv.CLI("secrets", "list", "--json")
	var rows []struct{ Name, Version, Source string }
	if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &rows) != nil {
		t.Fatalf("secrets list: %d %s %s", res.Code, res.Stdout, res.Stderr)
	}
	keys := 0
	for _, r := range rows {
		if !strings.HasPrefix(r.Name, "signing-key/") {
			continue
		}
		keys++
		if _, v, ok := f.Value(chaosProject, "prod", "/authledger/signing-key", strings.TrimPrefix(r.Name, "signing-key/")); !ok || strconv.Itoa(v) != r.Version {
			t.Errorf("key %s v%s is not in Infisical at that version (ok %v, v%d)", r.Name, r.Version, ok, v)
		}
	}
	if keys < atLeast {
		t.Fatalf("%d signing keys referenced, want %d: %s", keys, atLeast, res.Stdout)
	}
}

// The scheduler's own rotation while Infisical is down: counted in
// authledger_key_rotation_failures_total and retried every check until
// Infisical is back. With a 2 m 2 s publication lead (the shortest the
// policy allows with JWKS max-age 1 s) and a 2 m 5 s interval the next key
// is due 3 s after the first one.
func TestAScheduledRotationWhileInfisicalIsDown(t *testing.T) {
	f := startInfisicalFake(t)
	srv := e2eharness.Start(t, bin, e2eharness.Options{Env: infisicalServerEnv(f, map[string]string{
		"AUTHLEDGER_JWKS_MAX_AGE":          "1s",
		"AUTHLEDGER_KEY_PUBLICATION_LEAD":  "2m2s",
		"AUTHLEDGER_KEY_ROTATION_INTERVAL": "2m5s",
		"AUTHLEDGER_KEY_CHECK_EVERY":       "500ms",
	})})
	c, rt := startInfisicalSession(t, srv)
	f.Stop()
	var y tally
	var jtis []string
	deadline := time.Now().Add(4 * time.Minute)
	for scrapeMetric(t, srv.BaseURL, "authledger_key_rotation_failures_total") < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no failed rotation was counted while Infisical was down")
		}
		var more []string
		more, rt = traffic(t, srv, &y, c, rt, 1, nil)
		jtis = append(jtis, more...)
		time.Sleep(time.Second)
	}
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the next key published after recovery", func() error {
		res := srv.CLI("keys", "list", "--json")
		if res.Code != 0 || strings.Count(res.Stdout, `"kid"`) < 2 {
			return fmt.Errorf("exit %d %s", res.Code, res.Stdout)
		}
		return nil
	})
	checkKeysReadBack(t, srv, f, 2)
	more, _ := traffic(t, srv, &y, c, rt, 5, nil)
	checkNothingLost(t, srv, &y, append(jtis, more...))
}
