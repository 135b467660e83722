package projections_test

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/projections"
)

// A real SQLITE_BUSY: another process holds the read-model file's write
// lock past the busy timeout (10 s). The projection reports retrying, not
// stopped, and catches up by itself once the lock is released.
func TestSQLiteBusyReadModelRetriesAndCatchesUp(t *testing.T) {
	if testing.Short() {
		t.Skip("holds a SQLite write lock past the 10 s busy timeout")
	}
	t.Parallel()
	path := filepath.Join(t.TempDir(), "readmodels.db")
	db := openDB(t, "sqlite://"+path)
	store := memstore.New(nil)
	rng := rand.New(rand.NewPCG(21, 22))
	head := appendRandom(t, store, rng, 20)
	r := startRunner(t, testConfig(store, db), newCounter("counter.v1"))
	waitFor(t, r, "counter.v1", head)

	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx := context.Background()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	head = appendRandom(t, store, rng, 20)
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := r.Ready(ctx)
		if err != nil && strings.Contains(err.Error(), "counter.v1 retrying") {
			if !strings.Contains(strings.ToLower(err.Error()), "busy") && !strings.Contains(strings.ToLower(err.Error()), "locked") {
				t.Fatalf("ready = %v, want the busy error named", err)
			}
			break
		}
		if err != nil && strings.Contains(err.Error(), "stopped") {
			t.Fatalf("ready = %v: a busy database must not stop the projection", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("never reported retrying (last: %v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, r, "counter.v1", head)
	eventually(t, "status and readiness show running", func() bool {
		s := statusOf(t, db, store, "counter.v1")
		return s.State == projections.StateRunning && r.Ready(ctx) == nil
	})
	gotS, gotA := dump(t, db, "counter.v1")
	wantS, wantA := model(allRecords(t, store))
	if gotS != wantS || gotA != wantA {
		t.Fatal("after the busy spell the read model differs from the fold")
	}
}
