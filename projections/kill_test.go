package projections_test

import (
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/authledger/authledger/eventstore/sqlite"
	"github.com/authledger/authledger/projections"
)

// The child half of the kill tests: a real process that the parent
// SIGKILLs mid-work. It runs only when the parent sets these variables.
const (
	envChildMode   = "AUTHLEDGER_PROJTEST_CHILD"
	envChildLedger = "AUTHLEDGER_PROJTEST_LEDGER"
	envChildRM     = "AUTHLEDGER_PROJTEST_READMODELS"
)

func TestKillChild(t *testing.T) {
	mode := os.Getenv(envChildMode)
	if mode == "" {
		t.Skip("child process of the kill tests")
	}
	ctx := context.Background()
	store, err := sqlite.Open(ctx, os.Getenv(envChildLedger), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t, os.Getenv(envChildRM))
	c := newCounter("counter.v1")
	c.delay = 2 * time.Millisecond // slow enough to be killed mid-way
	cfg := testConfig(store, db)
	switch mode {
	case "project":
		r := startRunner(t, cfg, c)
		_ = r
		select {} // until killed
	case "rebuild":
		r, err := projections.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Register(c); err != nil {
			t.Fatal(err)
		}
		if err := r.Rebuild(ctx, "counter.v1", time.Minute, nil); err != nil {
			t.Fatal(err)
		}
		select {} // the parent kills before this
	}
}

func startChild(t *testing.T, mode, ledger, rm string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envChildMode+"="+mode, envChildLedger+"="+ledger, envChildRM+"="+rm)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

func kill(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
}

func TestKilledProcessLosesAndDoublesNothing(t *testing.T) {
	t.Parallel()
	for _, e := range engines {
		t.Run("on "+e.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			ledger := filepath.Join(t.TempDir(), "ledger.db")
			store, err := sqlite.Open(ctx, ledger, sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { store.Close() })
			rmURL := e.open(t)
			db := openDB(t, rmURL)
			head := appendRandom(t, store, rand.New(rand.NewPCG(31, 32)), 600)
			recs := allRecords(t, store)
			wantS, wantA := model(recs)

			t.Log("kill mid-projection")
			child := startChild(t, "project", ledger, rmURL)
			eventually(t, "the child applies some events", func() bool {
				return statusOf(t, db, store, "counter.v1").Checkpoint > 100
			})
			kill(t, child)
			if cp := statusOf(t, db, store, "counter.v1").Checkpoint; cp >= head {
				t.Fatalf("the child finished (checkpoint %d) before the kill; the test proves nothing", cp)
			}
			r := startRunner(t, testConfig(store, db), newCounter("counter.v1"))
			waitFor(t, r, "counter.v1", head)
			if s, a := dump(t, db, "counter.v1"); s != wantS || a != wantA {
				t.Fatal("after the kill and a restart, events were lost or applied twice")
			}
			r.stop()
			gen := statusOf(t, db, store, "counter.v1").Generation

			t.Log("kill mid-rebuild")
			child = startChild(t, "rebuild", ledger, rmURL)
			eventually(t, "the child's rebuild makes progress", func() bool {
				s := statusOf(t, db, store, "counter.v1")
				return s.Rebuild != nil && s.Rebuild.Done > 100
			})
			kill(t, child)
			st := statusOf(t, db, store, "counter.v1")
			if st.Rebuild == nil || st.Rebuild.Done >= head || st.Generation != gen {
				t.Fatalf("status after the kill %+v: want an unfinished rebuild and the old generation %d live", st, gen)
			}
			if s, a := dump(t, db, "counter.v1"); s != wantS || a != wantA {
				t.Fatal("the live copy changed while a rebuild was killed")
			}
			rb, err := projections.New(testConfig(store, db))
			if err != nil {
				t.Fatal(err)
			}
			if err := rb.Register(newCounter("counter.v1")); err != nil {
				t.Fatal(err)
			}
			var first projections.Progress
			err = rb.Rebuild(ctx, "counter.v1", 30*time.Second, func(p projections.Progress) {
				if first.Done == 0 {
					first = p
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if first.Done <= st.Rebuild.Done || first.Done > st.Rebuild.Done+100 {
				t.Fatalf("the rebuild restarted at %d, want it to continue after %d", first.Done, st.Rebuild.Done)
			}
			if s := statusOf(t, db, store, "counter.v1"); s.Generation != gen+1 || s.Rebuild != nil {
				t.Fatalf("after the rebuild: %+v, want generation %d live", s, gen+1)
			}
			if s, a := dump(t, db, "counter.v1"); s != wantS || a != wantA {
				t.Fatal("after the continued rebuild, events were lost or applied twice")
			}
		})
	}
}
