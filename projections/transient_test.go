package projections_test

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/projections"
)

// A storage fault of the read-model database (a dropped connection, a
// full disk, a busy lock) is not the event's fault: the projection
// reports retrying, backs off and catches up by itself, with no resume.
func TestTransientApplyErrorRetriesAndCatchesUpWithoutResume(t *testing.T) {
	t.Parallel()
	faults := []struct {
		name string
		err  error
	}{
		{"bad connection", fmt.Errorf("insert: %w", driver.ErrBadConn)},
		{"connection refused", fmt.Errorf("dial: %w", syscall.ECONNREFUSED)},
		{"postgres admin shutdown", &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}},
		{"postgres disk full", fmt.Errorf("insert: %w", &pgconn.PgError{Code: "53100", Message: "could not extend file: No space left on device"})},
		{"deadline", fmt.Errorf("apply: %w", context.DeadlineExceeded)},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			store := memstore.New(nil)
			db := openDB(t, engines[0].open(t))
			appendRandom(t, store, rand.New(rand.NewPCG(11, 12)), 40)
			recs := allRecords(t, store)
			var bad eventstore.Record
			for _, r := range recs[10:] {
				if r.Type == typeAdded {
					bad = r
					break
				}
			}
			c := newCounter("counter.v1")
			var healed atomic.Bool
			failures := atomic.Int64{}
			failWith := func(r eventstore.Record) error {
				if r.Position == bad.Position && !healed.Load() {
					failures.Add(1)
					return f.err
				}
				return nil
			}
			c.failWith.Store(&failWith)
			reg := prometheus.NewRegistry()
			cfg := testConfig(store, db)
			cfg.Registerer = reg
			r := startRunner(t, cfg, c)

			// Well past MaxRetries (2): a logic error would have poisoned by now.
			eventually(t, "the projection reports retrying", func() bool {
				st := statusOf(t, db, store, "counter.v1")
				return st.State == projections.StateRetrying && failures.Load() > 5
			})
			st := statusOf(t, db, store, "counter.v1")
			if st.ErrorPosition != bad.Position || st.Error == "" {
				t.Fatalf("status %+v, want retrying at %d with the error", st, bad.Position)
			}
			if !strings.Contains(st.Describe(), "retrying") {
				t.Fatalf("describe = %q", st.Describe())
			}
			if v := projectionGauge(t, reg, "authledger_projection_state", "counter.v1", "retrying"); v != 1 {
				t.Fatalf("state metric retrying = %v, want 1", v)
			}
			if err := r.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), "retrying") {
				t.Fatalf("ready = %v, want the retrying projection named (the same state as status)", err)
			}

			healed.Store(true) // the database is back: no operator action
			waitFor(t, r, "counter.v1", recs[len(recs)-1].Position)
			gotS, gotA := dump(t, db, "counter.v1")
			wantS, wantA := model(recs)
			if gotS != wantS || gotA != wantA {
				t.Fatal("after the retry the read model differs from the fold")
			}
			eventually(t, "status and readiness show running", func() bool {
				s := statusOf(t, db, store, "counter.v1")
				return s.State == projections.StateRunning && s.Error == "" && r.Ready(context.Background()) == nil
			})
		})
	}
}

// A decode error is the event's (or the code's) fault: it still poisons.
func TestDecodeErrorStillPoisons(t *testing.T) {
	t.Parallel()
	store := memstore.New(nil)
	db := openDB(t, engines[0].open(t))
	appendRandom(t, store, rand.New(rand.NewPCG(13, 14)), 20)
	recs := allRecords(t, store)
	bad := recs[5]
	c := newCounter("counter.v1")
	failWith := func(r eventstore.Record) error {
		if r.Position == bad.Position {
			return fmt.Errorf("decode %s: %w", r.Type, errors.New("json: cannot unmarshal string into Go value of type int64"))
		}
		return nil
	}
	c.failWith.Store(&failWith)
	startRunner(t, testConfig(store, db), c)
	eventually(t, "the projection stops at the event", func() bool {
		return statusOf(t, db, store, "counter.v1").State == projections.StateStopped
	})
	if st := statusOf(t, db, store, "counter.v1"); st.ErrorPosition != bad.Position {
		t.Fatalf("status %+v, want stopped at %d", st, bad.Position)
	}
}

func TestIsTransientSeparatesStorageFaultsFromLogicErrors(t *testing.T) {
	t.Parallel()
	var syntax error = json.Unmarshal([]byte(`{"v":`), new(struct{ V int }))
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("x: %w", driver.ErrBadConn), true},
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{&pgconn.PgError{Code: "08006"}, true},
		{&pgconn.PgError{Code: "53100"}, true},
		{&pgconn.PgError{Code: "40P01"}, true},
		{fmt.Errorf("write: %w", syscall.ENOSPC), true},
		{projections.Transient(errors.New("the projection knows better")), true},
		{context.DeadlineExceeded, true},
		{nil, false},
		{context.Canceled, false},
		{errors.New("counter: cannot fold this event"), false},
		{fmt.Errorf("decode: %w", syntax), false},
		{fmt.Errorf("decode: %w", io.EOF), false},
		{&pgconn.PgError{Code: "23505"}, false}, // unique violation: a logic error
		{&pgconn.PgError{Code: "42P01"}, false}, // undefined table
	} {
		if got := projections.IsTransient(c.err); got != c.want {
			t.Errorf("IsTransient(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
