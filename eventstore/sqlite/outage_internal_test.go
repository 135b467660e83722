package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/authledger/authledger/eventstore"
)

// A write to a read-only SQLite file fails with the engine's own
// SQLITE_READONLY, which the adapter reports as an outage; a logic error
// (a bad statement) stays what it is.
func TestReadOnlyAndDiskErrorsAreOutages(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ro.db")
	rw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rw.Exec(`CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	_ = rw.Close()
	ro, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	_, werr := ro.ExecContext(context.Background(), `INSERT INTO t VALUES (1)`)
	if werr == nil {
		t.Fatal("a read-only connection accepted a write")
	}
	if err := classify(fmt.Errorf("sqlite: insert: %w", werr)); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("read-only write error %v is not an outage", werr)
	}
	_, serr := ro.Exec(`SELECT nope FROM t`)
	if err := classify(serr); serr == nil || errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("a bad statement (%v) classified as an outage", serr)
	}
	if err := classify(fmt.Errorf("write: %w", syscall.ENOSPC)); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatal("a full disk is not an outage")
	}
	if err := classify(context.Canceled); errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatal("a cancelled request is an outage")
	}
	if err := classify(&eventstore.VersionConflictError{Stream: "s"}); errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatal("a version conflict is an outage")
	}
}
