package chaos

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// metric reads one sample of /metrics by its exact series text (name and
// labels as exposed), or -1 when absent.
// scrapeMetric is the value of one series (name and labels as /metrics
// prints them), -1 when it is absent or /metrics does not answer.
func scrapeMetric(t *testing.T, base, series string) float64 {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(base + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			if v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64); err == nil {
				return v
			}
		}
	}
	return -1
}

// The local secret provider's file turns unreadable under token load (its
// path becomes a directory: every read and write fails, as an unreachable
// provider would). Tokens keep being issued with the keys already loaded,
// or are refused with 503 and Retry-After, never 500; the failure shows in
// authledger_secret_provider_up and _errors_total; an operator's `keys
// rotate` fails without recording a key whose secret was not stored; and
// once the file is back the same command works.
func TestTheSecretProviderFailingUnderLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := e2eharness.Start(t, bin, e2eharness.Options{DataDir: dir})
	load := startLoad(clientsFor(t, srv, 4), func(int) string { return srv.BaseURL })
	time.Sleep(phase(time.Second))

	file := filepath.Join(dir, "secrets", "secrets.json")
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("the local provider's file: %v", err)
	}
	if err := os.Rename(file, file+".aside"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(file, 0o700); err != nil {
		t.Fatal(err)
	}
	broken := time.Now()
	keysBefore := srv.CLI("keys", "list").Stdout
	rot := srv.CLI("keys", "rotate")
	if rot.Code == 0 {
		t.Errorf("keys rotate succeeded with the secret provider down:\n%s", rot.Stdout)
	}
	if after := srv.CLI("keys", "list").Stdout; after != keysBefore {
		t.Errorf("a failed rotation changed the key ring:\nbefore\n%s\nafter\n%s", keysBefore, after)
	}
	time.Sleep(phase(2 * time.Second))
	// The server has not needed the provider yet unless it rotated; make
	// it ask (a rotation attempt reads and writes it).
	_ = srv.CLI("keys", "rotate")

	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(file+".aside", file); err != nil {
		t.Fatal(err)
	}
	restored := time.Now()
	recovery := load.okAfter(t, restored)
	if rot := srv.CLI("keys", "rotate"); rot.Code != 0 {
		t.Errorf("keys rotate after the provider came back: exit %d %s", rot.Code, rot.Stderr)
	}
	time.Sleep(phase(time.Second))
	load.end()

	lost := lostTokens(t, srv.Env, load.acked)
	load.report(t, lost, recovery)
	t.Logf("provider down for %s; keys rotate while down: exit %d %s", restored.Sub(broken).Round(time.Millisecond), rot.Code, strings.TrimSpace(rot.Stderr))
	if lost != 0 {
		t.Errorf("%d acknowledged tokens are not in the ledger", lost)
	}
	if n := load.noRetry.Load(); n != 0 {
		t.Errorf("%d answers were 503 without Retry-After", n)
	}
	_, codes := load.snapshot()
	for k, n := range codes {
		if !strings.HasPrefix(k, "200") && k != "503 temporarily_unavailable" {
			t.Errorf("%d answers %q: a provider outage must answer 503 temporarily_unavailable or nothing", n, k)
		}
	}
	chainHolds(t, srv.Env)
}
