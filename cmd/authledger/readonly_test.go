package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/authledger/authledger/eventstore/postgres"
	"github.com/authledger/authledger/internal/pgtest"
)

// emptyWorkDir runs the test in a fresh, empty working directory with no
// AUTHLEDGER_* setting, so the CLI looks for the default ./data/ledger.db:
// an operator who typed a command in the wrong folder.
func emptyWorkDir(t *testing.T) string {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, envPrefix) {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	dir := t.TempDir()
	t.Chdir(dir)
	return dir
}

func TestReadOnlyCommandsNeverCreateALedger(t *testing.T) {
	for _, args := range [][]string{
		{"audit", "verify"},
		{"audit", "export"},
		{"projections", "status"},
		{"projections", "status", "--json"},
		{"keys", "list"},
		{"keys", "list", "--json"},
		{"services", "list"},
		{"services", "show", "svc-x"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			dir := emptyWorkDir(t)
			code, out, errs := runCLI(t, args...)
			want := "no ledger at " + filepath.Join("data", "ledger.db")
			if code != 1 || !strings.Contains(errs, want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 1 naming %q", code, out, errs, want)
			}
			if strings.Contains(out, "ok:") {
				t.Fatalf("reported success on a ledger that does not exist: %q", out)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				t.Errorf("%s created %s", strings.Join(args, " "), e.Name())
			}
		})
	}
}

func TestProjectionsStatusNeverCreatesTheReadModelDatabase(t *testing.T) {
	path, _ := auditLedger(t, 2)
	rm := filepath.Join(filepath.Dir(path), "readmodels.db")
	code, out, errs := runCLI(t, "projections", "status")
	if code != 1 || !strings.Contains(errs, "no read-model database at "+rm) {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	if _, err := os.Stat(rm); !os.IsNotExist(err) {
		t.Fatalf("projections status created %s", rm)
	}
}

func TestAuditVerifyRefusesAnEmptyExport(t *testing.T) {
	auditLedger(t, 3)
	empty := filepath.Join(t.TempDir(), "empty.jsonl")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "audit", "verify", "--file", empty)
	if code != 1 || strings.Contains(out, "ok:") || !strings.Contains(errs, "export "+empty+" holds no events") {
		t.Fatalf("a zero-byte export: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	stdin = strings.NewReader("")
	t.Cleanup(func() { stdin = os.Stdin })
	code, out, errs = runCLI(t, "audit", "verify", "--file", "-")
	if code != 1 || strings.Contains(out, "ok:") || !strings.Contains(errs, "export - holds no events") {
		t.Fatalf("an empty standard input: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestReadOnlyCommandsNeverCreateALedgerInPostgreSQL(t *testing.T) {
	emptyWorkDir(t)
	dsn := pgtest.NewDatabase(t)
	t.Setenv("AUTHLEDGER_STORE", dsn)
	for _, args := range [][]string{{"audit", "verify"}, {"audit", "export"}, {"projections", "status"}, {"keys", "list"}, {"services", "list"}, {"services", "show", "svc-x"}} {
		code, out, errs := runCLI(t, args...)
		if code != 1 || !strings.Contains(errs, "no ledger in PostgreSQL database") || strings.Contains(out, "ok:") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("read-only commands left %d tables (%v)", n, err)
	}
	// Once a ledger is there, they read it.
	s, err := postgres.Open(context.Background(), dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if code, out, errs := runCLI(t, "audit", "verify"); code != 0 || !strings.HasPrefix(out, "ok: head position 0") {
		t.Fatalf("an empty PostgreSQL ledger: exit %d: %s%s", code, out, errs)
	}
}
