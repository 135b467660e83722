package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"authledger/eventstore"
	"authledger/eventstore/memstore"
	"authledger/internal/pgtest"
)

// recorder is an SQL projection that keeps one row per applied record (no
// unique key, so a double apply shows) and remembers, for every Apply
// call, the transaction it ran in.
type recorder struct {
	fail atomic.Uint64 // Apply fails at this position while non-zero

	mu       sync.Mutex
	attempts []attempt
}

type attempt struct {
	pos uint64
	tx  *sql.Tx
}

const (
	recAdded = "rec.added.v1"
	recNoise = "rec.noise.v1"
)

func (*recorder) Name() string      { return "recorder.v1" }
func (*recorder) Handles() []string { return []string{recAdded} }
func (*recorder) Tables() []string  { return []string{"rows"} }

func (*recorder) Setup(ctx context.Context, tx *sql.Tx, t Tables) error {
	_, err := tx.ExecContext(ctx, `CREATE TABLE `+t.Name("rows")+` (pos BIGINT NOT NULL)`)
	return err
}

func (p *recorder) Apply(ctx context.Context, tx *sql.Tx, t Tables, r eventstore.Record) error {
	p.mu.Lock()
	p.attempts = append(p.attempts, attempt{r.Position, tx})
	p.mu.Unlock()
	if r.Position == p.fail.Load() {
		return errors.New("recorder: cannot fold this event")
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO `+t.Name("rows")+` (pos) VALUES ($1)`, r.Position)
	return err
}

func (p *recorder) takeAttempts() []attempt {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.attempts
	p.attempts = nil
	return out
}

// liveBatchFixture is a prepared worker of recorder over a ledger of
// handled events 1..n followed by one unhandled event n+1.
func liveBatchFixture(t *testing.T, dbURL string, n int) (*worker, *recorder, []eventstore.Record) {
	t.Helper()
	ctx := context.Background()
	store := memstore.New(nil)
	for i := range n {
		if _, err := store.Append(ctx, eventstore.StreamAppend{Stream: fmt.Sprintf("s-%d", i%3), Expected: eventstore.Any(),
			Events: []eventstore.Event{{Type: recAdded, Data: json.RawMessage(`{}`)}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.Append(ctx, eventstore.StreamAppend{Stream: "noise", Expected: eventstore.Any(),
		Events: []eventstore.Event{{Type: recNoise, Data: json.RawMessage(`{}`)}}}); err != nil {
		t.Fatal(err)
	}
	recs, err := store.ReadAll(ctx, 0, n+1)
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r, err := New(Config{Store: store, DB: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	p := &recorder{}
	if err := r.Register(p); err != nil {
		t.Fatal(err)
	}
	w, _ := r.lookup(p.Name())
	if err := w.prepare(ctx); err != nil {
		t.Fatal(err)
	}
	return w, p, recs
}

// storedRows returns the applied positions (in order, duplicates kept) and
// the stored checkpoint and error position.
func storedRows(t *testing.T, w *worker) (rows string, checkpoint, errPos uint64) {
	t.Helper()
	ctx := context.Background()
	q, err := w.db().QueryContext(ctx, `SELECT pos FROM `+Live(w.name).Name("rows")+` ORDER BY pos`)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var ps []string
	for q.Next() {
		var p uint64
		if err := q.Scan(&p); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, fmt.Sprint(p))
	}
	if err := q.Err(); err != nil {
		t.Fatal(err)
	}
	if err := w.db().QueryRowContext(ctx, `SELECT checkpoint, error_position FROM projection_state WHERE name = $1`, w.name).Scan(&checkpoint, &errPos); err != nil {
		t.Fatal(err)
	}
	return strings.Join(ps, ","), checkpoint, errPos
}

func positions(from, to uint64) string {
	var ps []string
	for p := from; p <= to; p++ {
		ps = append(ps, fmt.Sprint(p))
	}
	return strings.Join(ps, ",")
}

var liveBatchEngines = []struct {
	name string
	url  func(t *testing.T) string
}{
	{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "readmodels.db") }},
	{"postgres", func(t *testing.T) string { return pgtest.NewDatabase(t) }},
}

func TestABacklogIsAppliedInOneTransactionWithOneCheckpoint(t *testing.T) {
	t.Parallel()
	for _, e := range liveBatchEngines {
		t.Run("on "+e.name, func(t *testing.T) {
			t.Parallel()
			w, p, recs := liveBatchFixture(t, e.url(t), 10)
			msg, err := batchMessage(recs[:10], recs[10])
			if err != nil {
				t.Fatal(err)
			}
			if err := w.handle(msg); err != nil {
				t.Fatal(err)
			}
			as := p.takeAttempts()
			if len(as) != 10 {
				t.Fatalf("%d Apply calls, want 10", len(as))
			}
			for _, a := range as {
				if a.tx != as[0].tx {
					t.Fatalf("position %d was applied in another transaction than position %d", a.pos, as[0].pos)
				}
			}
			// The checkpoint covers the unhandled record after the batch too.
			rows, cp, _ := storedRows(t, w)
			if rows != positions(1, 10) || cp != 11 || w.checkpoint.Load() != 11 {
				t.Fatalf("rows %s checkpoint %d (in memory %d), want rows 1..10 and checkpoint 11", rows, cp, w.checkpoint.Load())
			}
			// A redelivered batch applies nothing twice.
			if err := w.handle(msg.Copy()); err != nil {
				t.Fatal(err)
			}
			if rows, _, _ := storedRows(t, w); rows != positions(1, 10) {
				t.Fatalf("after redelivery rows %s, want 1..10 once", rows)
			}
		})
	}
}

func TestAPoisonedEventInABatchStopsTheProjectionExactlyThereWithThePrefixCommittedOnce(t *testing.T) {
	t.Parallel()
	for _, e := range liveBatchEngines {
		t.Run("on "+e.name, func(t *testing.T) {
			t.Parallel()
			w, p, recs := liveBatchFixture(t, e.url(t), 12)
			const bad = 7
			p.fail.Store(bad)
			msg, err := batchMessage(recs[:12], recs[12])
			if err != nil {
				t.Fatal(err)
			}
			err = w.handle(msg)
			var ae *applyError
			if !errors.As(err, &ae) || ae.rec.Position != bad {
				t.Fatalf("handle = %v, want an apply error at position %d", err, bad)
			}
			as := p.takeAttempts()
			batchTx := as[0].tx
			var inBatch bool
			for _, a := range as {
				inBatch = inBatch || (a.pos == bad && a.tx == batchTx)
			}
			if !inBatch {
				t.Fatal("the poisoned event was never applied as part of the batch; the test proves nothing")
			}
			rows, cp, _ := storedRows(t, w)
			if rows != positions(1, bad-1) || cp != bad-1 {
				t.Fatalf("rows %s checkpoint %d, want the prefix 1..%d committed once", rows, cp, bad-1)
			}
			w.poisoned(msg, err)
			if _, _, errPos := storedRows(t, w); errPos != bad {
				t.Fatalf("stopped at %d, want %d", errPos, bad)
			}
			if st, _, at := w.snapshot(); st != StateStopped || at != bad {
				t.Fatalf("state %s at %d, want stopped at %d", st, at, bad)
			}

			// Redelivery (Watermill retry, or a resume with the bug still
			// there) starts at the poisoned event and stops there again.
			if err := w.handle(msg.Copy()); !errors.As(err, &ae) || ae.rec.Position != bad {
				t.Fatalf("redelivered handle = %v, want an apply error at position %d", err, bad)
			}
			for _, a := range p.takeAttempts() {
				if a.pos < bad {
					t.Fatalf("redelivery applied position %d again", a.pos)
				}
			}
			if rows, cp, _ := storedRows(t, w); rows != positions(1, bad-1) || cp != bad-1 {
				t.Fatalf("after redelivery rows %s checkpoint %d, want 1..%d once", rows, cp, bad-1)
			}

			// The fix: the rest of the batch goes through, nothing twice.
			p.fail.Store(0)
			if err := w.handle(msg.Copy()); err != nil {
				t.Fatal(err)
			}
			rows, cp, errPos := storedRows(t, w)
			if rows != positions(1, 12) || cp != 13 || errPos != 0 {
				t.Fatalf("after the fix rows %s checkpoint %d error at %d, want 1..12 once, checkpoint 13, no error", rows, cp, errPos)
			}
			if st, _, _ := w.snapshot(); st != StateRunning {
				t.Fatalf("state %s after the fix, want running", st)
			}
		})
	}
}

func TestAFailingFirstEventOfABatchCommitsNothing(t *testing.T) {
	t.Parallel()
	w, p, recs := liveBatchFixture(t, liveBatchEngines[0].url(t), 5)
	p.fail.Store(1)
	msg, err := batchMessage(recs[:5], recs[4])
	if err != nil {
		t.Fatal(err)
	}
	err = w.handle(msg)
	var ae *applyError
	if !errors.As(err, &ae) || ae.rec.Position != 1 {
		t.Fatalf("handle = %v, want an apply error at position 1", err)
	}
	if rows, cp, _ := storedRows(t, w); rows != "" || cp != 0 {
		t.Fatalf("rows %q checkpoint %d, want nothing applied", rows, cp)
	}
}
