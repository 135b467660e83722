package projections_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/internal/pgtest"
	"github.com/authledger/authledger/projections"
	"github.com/authledger/authledger/projections/projectiontest"
)

// Event types of the test ledger. typeNoise is handled by no projection,
// so the checkpoint must still advance past it.
const (
	typeAdded = "test.added.v1"
	typeReset = "test.reset.v1"
	typeNoise = "test.noise.v1"
)

// counter is an SQL projection whose rows reveal a lost or double-applied
// event: every handled event adds one row to applied (no unique key), and
// streams folds the values.
type counter struct {
	name string
	// fail, when set, makes Apply fail for the positions it returns true for.
	fail atomic.Pointer[func(eventstore.Record) bool]
	// failWith, when set, makes Apply return the error it returns (nil: apply).
	failWith atomic.Pointer[func(eventstore.Record) error]
	// delay slows Apply down so a kill lands mid-projection.
	delay time.Duration
}

func newCounter(name string) *counter { return &counter{name: name} }

func (c *counter) Name() string      { return c.name }
func (c *counter) Handles() []string { return []string{typeAdded, typeReset} }
func (c *counter) Tables() []string  { return []string{"streams", "applied"} }

func (c *counter) Setup(ctx context.Context, tx *sql.Tx, t projections.Tables) error {
	for _, q := range []string{
		`CREATE TABLE ` + t.Name("streams") + ` (stream TEXT PRIMARY KEY, n BIGINT NOT NULL, total BIGINT NOT NULL, last_pos BIGINT NOT NULL)`,
		`CREATE TABLE ` + t.Name("applied") + ` (pos BIGINT NOT NULL, stream TEXT NOT NULL)`,
		`CREATE INDEX ` + t.Index("applied_pos") + ` ON ` + t.Name("applied") + ` (pos)`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

type payload struct {
	V int64 `json:"v"`
}

func (c *counter) Apply(ctx context.Context, tx *sql.Tx, t projections.Tables, r eventstore.Record) error {
	if f := c.fail.Load(); f != nil && (*f)(r) {
		return errors.New("counter: cannot fold this event")
	}
	if f := c.failWith.Load(); f != nil {
		if err := (*f)(r); err != nil {
			return err
		}
	}
	if c.delay > 0 {
		time.Sleep(c.delay)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO `+t.Name("applied")+` (pos, stream) VALUES ($1, $2)`, r.Position, r.Stream); err != nil {
		return err
	}
	switch r.Type {
	case typeAdded:
		var p payload
		if err := json.Unmarshal(r.Data, &p); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO `+t.Name("streams")+` (stream, n, total, last_pos) VALUES ($1, 1, $2, $3)
			ON CONFLICT (stream) DO UPDATE SET n = `+t.Name("streams")+`.n + 1, total = `+t.Name("streams")+`.total + $2, last_pos = $3`, r.Stream, p.V, r.Position)
		return err
	case typeReset:
		_, err := tx.ExecContext(ctx, `UPDATE `+t.Name("streams")+` SET n = 0, total = 0, last_pos = $2 WHERE stream = $1`, r.Stream, r.Position)
		return err
	}
	return nil
}

// model is the counter's expected state computed in Go from the ledger.
func model(recs []eventstore.Record) (streams string, applied string) {
	type row struct {
		n, total int64
		last     uint64
	}
	m := map[string]*row{}
	var ap []string
	for _, r := range recs {
		switch r.Type {
		case typeAdded:
			var p payload
			_ = json.Unmarshal(r.Data, &p)
			x := m[r.Stream]
			if x == nil {
				x = &row{}
				m[r.Stream] = x
			}
			x.n++
			x.total += p.V
			x.last = r.Position
		case typeReset:
			if x := m[r.Stream]; x != nil {
				x.n, x.total, x.last = 0, 0, r.Position
			}
		default:
			continue
		}
		ap = append(ap, fmt.Sprintf("%d|%s", r.Position, r.Stream))
	}
	var ss []string
	for s, x := range m {
		ss = append(ss, fmt.Sprintf("%s|%d|%d|%d", s, x.n, x.total, x.last))
	}
	sort.Strings(ss)
	sort.Strings(ap)
	return strings.Join(ss, "\n"), strings.Join(ap, "\n")
}

// dump reads the live counter tables in a canonical order.
func dump(t testing.TB, db *projections.DB, name string) (streams string, applied string) {
	t.Helper()
	live := projections.Live(name)
	read := func(q string) string {
		_, rows := projectiontest.Rows(t, db, q)
		out := make([]string, 0, len(rows))
		for _, r := range rows {
			out = append(out, strings.Join(r, "|"))
		}
		sort.Strings(out)
		return strings.Join(out, "\n")
	}
	return read(`SELECT stream, n, total, last_pos FROM ` + live.Name("streams")),
		read(`SELECT pos, stream FROM ` + live.Name("applied"))
}

// engines are the read-model databases every engine test runs on.
var engines = []struct {
	name string
	open func(t testing.TB) string
}{
	{"sqlite", func(t testing.TB) string { return "sqlite://" + filepath.Join(t.TempDir(), "readmodels.db") }},
	{"postgres", func(t testing.TB) string { return pgtest.NewDatabase(t) }},
}

func openDB(t testing.TB, url string) *projections.DB {
	t.Helper()
	db, err := projections.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testConfig(store eventstore.Store, db *projections.DB) projections.Config {
	return projections.Config{
		Store:         store,
		DB:            db,
		Logger:        quietLogger(),
		RetryInterval: 5 * time.Millisecond,
		MaxRetries:    2,
		LockRetry:     50 * time.Millisecond,
		Heartbeat:     50 * time.Millisecond,
		RebuildBatch:  100,
	}
}

// running is a started runner that the test can stop.
type running struct {
	*projections.Runner
	stop func()
}

func startRunner(t testing.TB, cfg projections.Config, ps ...projections.Projection) *running {
	t.Helper()
	r, err := projections.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if err := r.Register(p); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = r.Start(ctx)
	}()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return &running{Runner: r, stop: stop}
}

// appendRandom appends n events over a few streams, one to three per
// append, and returns the head position.
func appendRandom(t testing.TB, store eventstore.Store, rng *rand.Rand, n int) uint64 {
	t.Helper()
	ctx := context.Background()
	var head uint64
	for n > 0 {
		k := min(n, 1+rng.IntN(3))
		stream := fmt.Sprintf("s-%d", rng.IntN(7))
		evs := make([]eventstore.Event, k)
		for i := range evs {
			typ := typeAdded
			switch x := rng.IntN(10); {
			case x < 2:
				typ = typeNoise
			case x < 3:
				typ = typeReset
			}
			evs[i] = eventstore.Event{Type: typ, Data: json.RawMessage(fmt.Sprintf(`{"v":%d}`, rng.IntN(1000)-300))}
		}
		recs, err := store.Append(ctx, eventstore.StreamAppend{Stream: stream, Expected: eventstore.Any(), Events: evs})
		if err != nil {
			t.Fatal(err)
		}
		head = recs[len(recs)-1].Position
		n -= k
	}
	return head
}

func allRecords(t testing.TB, store eventstore.Store) []eventstore.Record {
	t.Helper()
	recs, err := store.ReadAll(context.Background(), 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func waitFor(t testing.TB, r *running, name string, pos uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.WaitFor(ctx, name, pos); err != nil {
		t.Fatalf("wait for %s to reach %d: %v", name, pos, err)
	}
}

// eventually polls cond (bounded) for conditions another goroutine or
// process brings about; it is not a timing assertion.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func statusOf(t testing.TB, db *projections.DB, store eventstore.Store, name string) projections.Status {
	t.Helper()
	ss, err := projections.ReadStatus(context.Background(), db, store, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		if s.Name == name {
			return s
		}
	}
	return projections.Status{}
}
