// Package chaos drives real parts (and the real binary) through storage
// faults: each test starts its own PostgreSQL or Redis, never the shared
// ones, and prints what was acknowledged, lost and refused.
package chaos

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/projections"
)

// rows is an SQL projection with one row per handled event: a lost or
// doubled event shows in its count.
type rows struct{}

func (rows) Name() string      { return "chaos_rows.v1" }
func (rows) Handles() []string { return []string{"chaos.added.v1"} }
func (rows) Tables() []string  { return []string{"rows"} }
func (rows) Setup(ctx context.Context, tx *sql.Tx, t projections.Tables) error {
	_, err := tx.ExecContext(ctx, `CREATE TABLE `+t.Name("rows")+` (pos BIGINT PRIMARY KEY)`)
	return err
}
func (rows) Apply(ctx context.Context, tx *sql.Tx, t projections.Tables, r eventstore.Record) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO `+t.Name("rows")+` (pos) VALUES ($1)`, r.Position)
	return err
}

func appendN(t *testing.T, store eventstore.Store, n int) uint64 {
	t.Helper()
	var head uint64
	for i := range n {
		recs, err := store.Append(context.Background(), eventstore.StreamAppend{Stream: fmt.Sprintf("c-%d", i%5), Expected: eventstore.Any(),
			Events: []eventstore.Event{{Type: "chaos.added.v1", Data: json.RawMessage(`{}`)}}})
		if err != nil {
			t.Fatal(err)
		}
		head = recs[0].Position
	}
	return head
}

// The read-model PostgreSQL stops while the projection is fed and starts
// again: the projection reports retrying (never stopped), then catches up
// by itself, with no `projections resume`, and loses nothing.
func TestReadModelPostgresStoppedMidFeedProjectionRetriesAndCatchesUp(t *testing.T) {
	t.Parallel()
	pg := startOwnPostgres(t)
	ctx := context.Background()
	db, err := projections.Open(ctx, pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store := memstore.New(nil)
	r, err := projections.New(projections.Config{Store: store, DB: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		RetryInterval: 10 * time.Millisecond, LockRetry: 100 * time.Millisecond, Heartbeat: 100 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Register(rows{}); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = r.Start(rctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })

	waitCtx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := r.WaitFor(waitCtx, "chaos_rows.v1", appendN(t, store, 50)); err != nil {
		t.Fatal(err)
	}

	stoppedAt := time.Now()
	pg.Stop()
	// Fed while the database is away.
	var feeding sync.WaitGroup
	feeding.Add(1)
	go func() { defer feeding.Done(); appendN(t, store, 100) }()
	var lastErr error
	poll(t, "the projection reports retrying", func() bool {
		lastErr = r.Ready(ctx)
		return lastErr != nil && strings.Contains(lastErr.Error(), "chaos_rows.v1 retrying")
	})
	if strings.Contains(lastErr.Error(), "stopped") {
		t.Fatalf("ready = %v: a storage fault must not stop the projection", lastErr)
	}
	feeding.Wait()
	head := appendN(t, store, 10)

	pg.Start()
	restartedAt := time.Now()
	waitCtx2, wcancel2 := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel2()
	if err := r.WaitFor(waitCtx2, "chaos_rows.v1", head); err != nil {
		t.Fatalf("never caught up after the restart (no resume given): %v", err)
	}
	poll(t, "status and /readyz agree on running", func() bool {
		ss, err := projections.ReadStatus(ctx, db, store, time.Now())
		if err != nil || len(ss) != 1 {
			return false
		}
		return ss[0].State == projections.StateRunning && ss[0].Error == "" && r.Ready(ctx) == nil
	})
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+projections.Live("chaos_rows.v1").Name("rows")).Scan(&n); err != nil {
		t.Fatal(err)
	}
	t.Logf("events appended %d, folded %d, lost %d; outage %s, caught up %s after the restart",
		head, n, int(head)-n, restartedAt.Sub(stoppedAt).Round(time.Millisecond), time.Since(restartedAt).Round(time.Millisecond))
	if n != int(head) {
		t.Fatalf("folded %d rows, want %d", n, head)
	}
}

// poll waits (bounded, generously) for cond; it asserts no timing.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
