package readme

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

const marker = "<!-- walkthrough:"

// walkthrough is the shell block that follows the marker comment.
func walkthrough(t *testing.T, readme string) string {
	t.Helper()
	_, rest, ok := strings.Cut(readme, marker)
	if !ok {
		t.Fatal("README.md has no walk-through marker")
	}
	_, rest, ok = strings.Cut(rest, "```sh\n")
	if !ok {
		t.Fatal("no ```sh block after the walk-through marker")
	}
	block, _, ok := strings.Cut(rest, "\n```")
	if !ok {
		t.Fatal("the walk-through block does not end")
	}
	return block + "\n"
}

// TestTheREADMEWalkThroughRunsAsPasted runs the block with bash at the
// checkout's root, as a reader would, with three changes: a free port, set
// the way the README says to change it (AUTHLEDGER_LISTEN, AUTHLEDGER_ISSUER
// and AL); a fresh data dir (AUTHLEDGER_DATA_DIR); and the server log in a
// temporary directory. `make build` rebuilds ./bin/authledger, which is
// what it is for. (A mirror of the checkout elsewhere would keep bin/ out
// too, but compiles from nothing: the build cache is keyed by path.)
func TestTheREADMEWalkThroughRunsAsPasted(t *testing.T) {
	for _, tool := range []string{"bash", "make", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed; `make test` installs it (scripts/services.sh)", tool)
		}
	}
	root, err := e2eharness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	script := walkthrough(t, string(readme))
	const defaultAL = "AL=http://localhost:8080 "
	if !strings.Contains(script, defaultAL) {
		t.Fatalf("the walk-through no longer sets %q, which this test moves to a free port:\n%s", defaultAL, script)
	}
	addr, err := e2eharness.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := strings.Cut(addr, ":")
	issuer := "http://localhost:" + port
	script = strings.Replace(script, defaultAL, "AL="+issuer+" ", 1)

	// The server's log goes to the temporary directory, not the checkout.
	work := t.TempDir()
	const logRedirect = "> authledger.log "
	if !strings.Contains(script, logRedirect) {
		t.Fatalf("the walk-through no longer logs to authledger.log:\n%s", script)
	}
	script = strings.Replace(script, logRedirect, "> "+filepath.Join(work, "authledger.log")+" ", 1)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = root
	cmd.Env = append(e2eharness.BaseEnv(), "AUTHLEDGER_LISTEN=127.0.0.1:"+port, "AUTHLEDGER_ISSUER="+issuer, "AUTHLEDGER_DATA_DIR="+filepath.Join(work, "data"))
	// Its own process group, so a hung run takes its background server
	// with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	log, _ := os.ReadFile(filepath.Join(work, "authledger.log"))
	if err != nil {
		var ee *exec.ExitError
		errors.As(err, &ee)
		t.Fatalf("the walk-through failed (%v):\n%s\nserver log:\n%s", err, out, log)
	}
	text := string(out)
	for _, want := range []string{
		`"ready":true`,
		`"active": true`,
		`"aud": [` + "\n" + `    "` + issuer + `"` + "\n  ]", // no registered audience: the issuer alone
		`"scope": "reports:read"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the walk-through's output lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(string(log), "stopped cleanly") {
		t.Errorf("the server did not stop cleanly:\n%s", log)
	}
	if _, err := os.Stat(filepath.Join(work, "data", "ledger.db")); err != nil {
		t.Errorf("the fresh data dir holds no ledger: %v", err)
	}
}
