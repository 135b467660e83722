package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authledger/authledger/eventstore/audit"
	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

func TestServeStartsOnAFreshDataDirAndStopsCleanlyOnSIGTERM(t *testing.T) {
	t.Parallel()
	srv := e2eharness.Start(t, bin, e2eharness.Options{})

	resp, err := srv.Get("/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %s", resp.Status)
	}
	resp, err = srv.Get("/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var ready struct {
		Ready  bool              `json:"ready"`
		Checks map[string]string `json:"checks"`
	}
	if err := json.Unmarshal(body, &ready); err != nil || resp.StatusCode != http.StatusOK || !ready.Ready || ready.Checks["ledger"] != "ok" {
		t.Fatalf("/readyz: %s %s", resp.Status, body)
	}
	if _, err := os.Stat(filepath.Join(srv.DataDir, "ledger.db")); err != nil {
		t.Fatalf("the embedded profile keeps its ledger in the data dir: %v", err)
	}

	code, err := srv.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	if !strings.Contains(srv.Logs(), "stopped cleanly") {
		t.Fatalf("no clean stop in the logs")
	}
}

func TestAuditCommandsOnAFreshStore(t *testing.T) {
	t.Parallel()
	srv := e2eharness.Start(t, bin, e2eharness.Options{})

	// While the server runs, against the same store.
	v := srv.CLI("audit", "verify")
	if v.Code != 0 || !strings.HasPrefix(v.Stdout, "ok: head position ") {
		t.Fatalf("audit verify: exit %d\n%s%s", v.Code, v.Stdout, v.Stderr)
	}
	ex := srv.CLI("audit", "export")
	if ex.Code != 0 {
		t.Fatalf("audit export: exit %d: %s", ex.Code, ex.Stderr)
	}
	assertExport(t, ex.Stdout)

	if code, _ := srv.Stop(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	// And after it stopped: the head it reports is the export's last line.
	v2 := srv.CLI("audit", "verify")
	if v2.Code != 0 {
		t.Fatalf("audit verify after stop: exit %d\n%s%s", v2.Code, v2.Stdout, v2.Stderr)
	}
	ex2 := srv.CLI("audit", "export")
	if ex2.Stdout != "" {
		lines := strings.Split(strings.TrimSpace(ex2.Stdout), "\n")
		last := lines[len(lines)-1]
		rec, err := audit.ParseLine([]byte(last))
		if err != nil || !strings.Contains(v2.Stdout, rec.Hash) {
			t.Fatalf("verify says %q, the export ends with %q (%v)", v2.Stdout, last, err)
		}
	}

	file := filepath.Join(t.TempDir(), "export.jsonl")
	if r := srv.CLI("audit", "export", "--out", file); r.Code != 0 {
		t.Fatalf("audit export --out: exit %d: %s", r.Code, r.Stderr)
	}
	if r := srv.CLI("audit", "verify", "--file", file); r.Code != 0 || r.Stdout != v2.Stdout {
		t.Fatalf("audit verify --file: exit %d %q, want %q", r.Code, r.Stdout, v2.Stdout)
	}
}

// assertExport checks every line on its own, as an outside tool would:
// a JSON object with the ten envelope fields, numbers as numbers, data and
// metadata as objects; then the whole export as a chain.
func assertExport(t *testing.T, out string) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, audit.MaxLineBytes)
	n := 0
	for sc.Scan() {
		n++
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v", n, err)
		}
		if len(m) != 10 {
			t.Fatalf("line %d has %d fields", n, len(m))
		}
		if pos, ok := m["position"].(float64); !ok || pos != float64(n) {
			t.Fatalf("line %d: position %v", n, m["position"])
		}
		if _, ok := m["data"].(map[string]any); !ok {
			t.Fatalf("line %d: data is %T", n, m["data"])
		}
		if _, err := audit.ParseLine(sc.Bytes()); err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
	}
	if _, err := audit.VerifyExport(bytes.NewReader([]byte(out)), audit.Options{}); err != nil {
		t.Fatalf("the export does not verify: %v", err)
	}
}
