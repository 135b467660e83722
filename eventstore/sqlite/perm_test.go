package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/authledger/authledger/eventstore/sqlite"
)

func TestTheLedgerFileIsPrivateEvenUnderAPermissiveUmaskAndDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ledger.db")
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Fatalf("ledger file mode %o, want 600", mode)
	}
}
