package chaos

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// The scheduled publication of the next signing key fails under token
// load: the secret provider's directory turns immutable (writes refused,
// reads fine — a read-only volume). Token issuance goes on with the active
// key and no error; each failed tick counts in
// authledger_key_rotation_failures_total and the provider shows down; no
// key is published without its secret; and once writes work again the
// scheduler publishes the next key by itself.
func TestAKeyRotationFailingUnderLoad(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("chattr"); err != nil {
		t.Skip("chattr not installed: cannot make the secrets directory read-only under a running server")
	}
	dir := t.TempDir()
	srv := e2eharness.Start(t, bin, e2eharness.Options{DataDir: dir, Env: map[string]string{
		// The shortest lead the keyring accepts; the next key is due 15 s
		// after the first one activates; the scheduler checks twice a second.
		"AUTHLEDGER_JWKS_MAX_AGE": "1s", "AUTHLEDGER_KEY_PUBLICATION_LEAD": "2m1s",
		"AUTHLEDGER_KEY_ROTATION_INTERVAL": "2m16s", "AUTHLEDGER_KEY_CHECK_EVERY": "500ms",
	}})
	// Registering a client uses the provider too: before it breaks.
	clients := clientsFor(t, srv, 4)
	secretsDir := filepath.Join(dir, "secrets")
	paths, _ := filepath.Glob(filepath.Join(secretsDir, "*"))
	paths = append(paths, secretsDir)
	if err := chattr("+i", paths...); err != nil {
		t.Skipf("the data dir's filesystem has no immutable flag: %v", err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := chattr("-i", paths...); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(restore) // before t.TempDir's removal
	if published := scrapeMetric(t, srv.BaseURL, `authledger_signing_keys{state="published"}`); published != 0 {
		t.Skipf("the next key was published before the directory turned read-only (%v)", published)
	}
	load := startLoad(clients, func(int) string { return srv.BaseURL })

	poll(t, "three failed rotation ticks", func() bool {
		return scrapeMetric(t, srv.BaseURL, "authledger_key_rotation_failures_total") >= 3
	})
	if up := scrapeMetric(t, srv.BaseURL, "authledger_secret_provider_up"); up != 0 {
		t.Errorf("authledger_secret_provider_up = %v while every write fails", up)
	}
	if n := scrapeMetric(t, srv.BaseURL, `authledger_signing_keys{state="published"}`); n != 0 {
		t.Errorf("%v keys published without their secret stored", n)
	}
	time.Sleep(phase(time.Second))
	failures := scrapeMetric(t, srv.BaseURL, "authledger_key_rotation_failures_total")

	restore()
	back := time.Now()
	poll(t, "the next key published after the provider came back", func() bool {
		return scrapeMetric(t, srv.BaseURL, `authledger_signing_keys{state="published"}`) == 1
	})
	recovery := time.Since(back)
	time.Sleep(phase(time.Second))
	load.end()

	lost := lostTokens(t, srv.Env, load.acked)
	load.report(t, lost, recovery)
	t.Logf("failed rotation ticks while the provider refused writes: %v", failures)
	if lost != 0 {
		t.Errorf("%d acknowledged tokens are not in the ledger", lost)
	}
	_, codes := load.snapshot()
	for k, n := range codes {
		if !strings.HasPrefix(k, "200") {
			t.Errorf("%d token answers %q: a failing rotation must not touch issuance", n, k)
		}
	}
	if up := scrapeMetric(t, srv.BaseURL, "authledger_secret_provider_up"); up != 1 {
		t.Errorf("authledger_secret_provider_up = %v after recovery", up)
	}
	chainHolds(t, srv.Env)
}
