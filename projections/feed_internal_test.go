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
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/internal/pgtest"
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

// workerFixture is a prepared worker of recorder over a ledger of
// handled events 1..n followed by one unhandled event n+1.
func workerFixture(t *testing.T, dbURL string, n int) (*worker, *recorder, []eventstore.Record) {
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

var internalEngines = []struct {
	name string
	url  func(t *testing.T) string
}{
	{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "readmodels.db") }},
	{"postgres", func(t *testing.T) string { return pgtest.NewDatabase(t) }},
}

func TestARecordTravelsAsItsDataWithTheEnvelopeInMetadata(t *testing.T) {
	t.Parallel()
	r := eventstore.Record{
		Position: 42, Stream: "session-1", Version: 3, ID: "0190e6a8-7b1c-7def-8000-000000000001", Type: "session.started.v1",
		RecordedAt: time.UnixMicro(1_700_000_000_123_456).UTC(),
		Data:       json.RawMessage(`{"id":"s1",  "subject":"u1"}`), // spacing kept: no re-encode
		Metadata:   json.RawMessage(`{"actor":"a"}`),
		PrevHash:   "prev", Hash: "hash",
	}
	m := RecordMessage(r)
	if string(m.Payload) != string(r.Data) {
		t.Fatalf("payload %s, want the event data %s verbatim", m.Payload, r.Data)
	}
	if m.UUID != r.ID || m.Metadata.Get(MetaPosition) != "42" || m.Metadata.Get(MetaType) != r.Type || m.Metadata.Get(MetaHash) != "hash" {
		t.Fatalf("envelope metadata %v", m.Metadata)
	}
	got, err := MessageRecord(m)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("round trip\n got %+v\nwant %+v", got, r)
	}
	if _, err := MessageRecord(skipMessage(0, time.Time{}).Copy()); err != nil {
		t.Fatalf("a checkpoint-only message has a position: %v", err)
	}
	if _, err := MessageRecord(RecordMessage(r).Copy()); err != nil {
		t.Fatal(err)
	}
}

func TestARedeliveredRecordIsAppliedOnceAndASkipOnlyMovesTheCheckpoint(t *testing.T) {
	t.Parallel()
	for _, e := range internalEngines {
		t.Run("on "+e.name, func(t *testing.T) {
			t.Parallel()
			w, p, recs := workerFixture(t, e.url(t), 3)
			for _, r := range recs[:3] {
				if err := w.handle(RecordMessage(r)); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.handle(RecordMessage(recs[1])); err != nil {
				t.Fatal(err)
			}
			if err := w.handle(skipMessage(recs[3].Position, recs[3].RecordedAt)); err != nil {
				t.Fatal(err)
			}
			rows, cp, _ := storedRows(t, w)
			if rows != positions(1, 3) || cp != 4 || w.checkpoint.Load() != 4 {
				t.Fatalf("rows %s checkpoint %d (in memory %d), want rows 1..3 once and checkpoint 4", rows, cp, w.checkpoint.Load())
			}
			if as := p.takeAttempts(); len(as) != 3 {
				t.Fatalf("%d Apply calls, want 3: a redelivery must not reach Apply", len(as))
			}
		})
	}
}

func TestAFailingRecordCommitsNothingAndKeepsTheCheckpointBeforeIt(t *testing.T) {
	t.Parallel()
	for _, e := range internalEngines {
		t.Run("on "+e.name, func(t *testing.T) {
			t.Parallel()
			w, p, recs := workerFixture(t, e.url(t), 5)
			p.fail.Store(3)
			for _, r := range recs[:2] {
				if err := w.handle(RecordMessage(r)); err != nil {
					t.Fatal(err)
				}
			}
			err := w.handle(RecordMessage(recs[2]))
			if err == nil || !strings.Contains(err.Error(), "at position 3") {
				t.Fatalf("handle = %v, want the failure at position 3", err)
			}
			if rows, cp, _ := storedRows(t, w); rows != positions(1, 2) || cp != 2 {
				t.Fatalf("rows %s checkpoint %d, want rows 1,2 and checkpoint 2", rows, cp)
			}
		})
	}
}
