package sqlite_test

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/sqlite"
)

// An immutable ledger file refuses writes even to root and even through
// descriptors already open: CheckWritable sees it without writing.
func TestCheckWritableSeesAnImmutableLedgerFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CheckWritable(context.Background()); err != nil {
		t.Fatalf("a fresh ledger is not writable: %v", err)
	}
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		t.Skipf("this filesystem has no immutable flag: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("chattr", "-i", path).Run() })
	if err := s.CheckWritable(context.Background()); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("CheckWritable on an immutable file = %v, want eventstore.ErrUnavailable", err)
	}
}
