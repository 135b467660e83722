package chaos

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/secrets/local"
	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// copyDir copies the regular files of src into dst (the secrets folder is
// flat).
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// An instance whose secret provider lacks the keys the ledger names (the
// signing keys and the refresh sealing key) is not ready, and a refresh
// token sealed with the missing key answers 503 temporarily_unavailable
// with a log line naming the key id, never invalid_grant: the client keeps
// a token that works again once the key is back.
func TestAKeyMissingFromTheSecretStore(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	srv := e2eharness.Start(t, bin, e2eharness.Options{DataDir: dataDir})
	login := register(t, srv, "--name", "login", "--scopes", "sessions:create read")
	_, rt := startSession(t, srv, login, "alice")
	kid, ok := refreshtoken.KeyIDOf(rt)
	if !ok {
		t.Fatalf("refresh token without a key id: %q", rt)
	}
	if exit, err := srv.Stop(); err != nil || exit != 0 {
		t.Fatalf("stop: exit %d %v", exit, err)
	}

	// The same ledger, with a secret store that kept only the client
	// secret pepper: a restore from the wrong backup.
	secretsDir := filepath.Join(dataDir, "secrets")
	saved := filepath.Join(t.TempDir(), "secrets")
	copyDir(t, secretsDir, saved)
	sp, err := local.Open(secretsDir, local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	names, err := sp.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if n != commands.SecretPepperName {
			if err := sp.Delete(ctx, n); err != nil {
				t.Fatal(err)
			}
		}
	}
	lacking := e2eharness.Start(t, bin, e2eharness.Options{DataDir: dataDir, LiveOnly: true})
	var codes tally
	eventually(t, "the lacking instance to say it is not ready", func() error {
		code, checks := readyz(t, lacking, "")
		if code == http.StatusServiceUnavailable && checks["keys"] == "unavailable" && checks["sealing_keys"] == "unavailable" {
			return nil
		}
		return fmt.Errorf("readyz %d %v", code, checks)
	})
	hc := &http.Client{Timeout: 10 * time.Second}
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	for range 3 {
		code, out, err := post(hc, lacking.BaseURL, "/oauth2/token", login, refresh)
		if err != nil {
			t.Fatal(err)
		}
		codes.fail(fmt.Sprintf("%d %v", code, out["error"]))
		if code != http.StatusServiceUnavailable || out["error"] != "temporarily_unavailable" {
			t.Errorf("refresh with a token sealed by the missing key %s: %d %v, want 503 temporarily_unavailable", kid, code, out)
		}
	}
	if !strings.Contains(lacking.Logs(), kid) {
		t.Errorf("no log line names the missing sealing key %s", kid)
	}
	if exit, err := lacking.Stop(); err != nil || exit != 0 {
		t.Errorf("stop: exit %d %v", exit, err)
	}

	// The keys come back: the very token the lacking instance refused works.
	if err := os.RemoveAll(secretsDir); err != nil {
		t.Fatal(err)
	}
	copyDir(t, saved, secretsDir)
	back := time.Now()
	restored := e2eharness.Start(t, bin, e2eharness.Options{DataDir: dataDir})
	code, out, err := post(hc, restored.BaseURL, "/oauth2/token", login, refresh)
	if err != nil || code != http.StatusOK {
		t.Fatalf("refresh once the key is back: %d %v %v", code, out, err)
	}
	codes.ack()
	recovery := time.Since(back).Round(10 * time.Millisecond)
	acked := jti(t, out["access_token"].(string))
	if exit, err := restored.Stop(); err != nil || exit != 0 {
		t.Errorf("stop: exit %d %v", exit, err)
	}
	lost := 0
	if !ledgerStreams(t, restored)["token-"+acked] {
		lost++
		t.Errorf("the acknowledged token %s is not in the ledger", acked)
	}
	t.Logf("recovery (restart with the keys back to a refreshed token): %s", recovery)
	codes.report(t, lost)
}
