// Package projectiontest is the contract every SQL projection passes, on
// SQLite and on PostgreSQL:
//
//   - applying a record twice in a row equals applying it once (a
//     projection guards its rows by key and position, so a redelivery
//     cannot double a row or move it back);
//   - a read model rebuilt from position 1 equals the one built
//     incrementally, across runner restarts, by the live path.
//
// The cases fold a small ledger written through the real domain events
// (by default SessionsAndFamilies: sessions and refresh families decided
// by their aggregates) and compare whole table contents.
//
//	func TestContract(t *testing.T) {
//		projectiontest.Run(t, projectiontest.Case{New: func() projections.SQLProjection { return families.Projection{} }})
//	}
package projectiontest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/internal/pgtest"
	"github.com/authledger/authledger/projections"
)

// Case is one SQL projection under the contract.
type Case struct {
	// New returns the projection; it is called once per runner.
	New func() projections.SQLProjection
	// Ledger returns the writer of the ledger the cases fold; nil means
	// SessionsAndFamilies. It writes in two parts, and the incremental
	// build restarts its runner in between.
	Ledger func(store eventstore.Store) Ledger
}

// steps is how many ledger steps each of the two parts writes.
const steps = 60

// Engines are the read-model databases the contract runs on.
var Engines = []struct {
	Name string
	URL  func(t testing.TB) string
}{
	{"sqlite", func(t testing.TB) string { return "sqlite://" + filepath.Join(t.TempDir(), "readmodels.db") }},
	{"postgres", func(t testing.TB) string { return pgtest.NewDatabase(t) }},
}

// Run runs the contract on every engine.
func Run(t *testing.T, c Case) {
	t.Helper()
	if c.New == nil {
		t.Fatal("projectiontest: Case.New is required")
	}
	if c.Ledger == nil {
		c.Ledger = func(store eventstore.Store) Ledger { return SessionsAndFamilies(store, 1) }
	}
	for _, e := range Engines {
		t.Run("on "+e.Name, func(t *testing.T) {
			t.Parallel()
			store := memstore.New(nil)
			ledger := c.Ledger(store)
			ledger.Write(t, steps)
			incremental := open(t, e.URL(t))
			build(t, store, incremental, c.New())
			ledger.Write(t, steps)
			build(t, store, incremental, c.New())
			recs := readAll(t, store)
			want := Dump(t, incremental, c.New())
			if want.Rows() == 0 {
				t.Fatal("the ledger left the read model empty: the contract would prove nothing")
			}

			t.Run("applying every record twice equals applying it once", func(t *testing.T) {
				t.Parallel()
				db := open(t, e.URL(t))
				sp := c.New()
				rebuild(t, memstore.New(nil), db, sp) // the tables, empty
				handles := map[string]bool{}
				for _, typ := range sp.Handles() {
					handles[typ] = true
				}
				live := db.Live(sp.Name())
				ctx := context.Background()
				for _, r := range recs {
					if !handles[r.Type] {
						continue
					}
					tx, err := db.BeginTx(ctx, nil)
					if err != nil {
						t.Fatal(err)
					}
					for range 2 {
						if err := sp.Apply(ctx, tx, live, r); err != nil {
							_ = tx.Rollback()
							t.Fatalf("apply %s at %d: %v", r.Type, r.Position, err)
						}
					}
					if err := tx.Commit(); err != nil {
						t.Fatal(err)
					}
				}
				if got := Dump(t, db, sp); got.String() != want.String() {
					t.Fatalf("applied twice:\n%s\napplied once:\n%s", got, want)
				}
			})

			t.Run("a rebuilt read model equals the incrementally built one", func(t *testing.T) {
				t.Parallel()
				db := open(t, e.URL(t))
				build(t, store, db, c.New()) // same ledger, other database: the live build stays for comparison
				rebuild(t, store, db, c.New())
				if got := Dump(t, db, c.New()); got.String() != want.String() {
					t.Fatalf("rebuilt:\n%s\nincremental:\n%s", got, want)
				}
			})
		})
	}
}

// Tables is a read model's contents: each logical table's rows, rendered
// and sorted.
type Tables map[string][]string

// Rows counts the rows of every table.
func (ts Tables) Rows() int {
	n := 0
	for _, rows := range ts {
		n += len(rows)
	}
	return n
}

func (ts Tables) String() string {
	names := make([]string, 0, len(ts))
	for n := range ts {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s:\n", n)
		for _, r := range ts[n] {
			fmt.Fprintf(&b, "  %s\n", r)
		}
	}
	return b.String()
}

// Dump reads the live tables of sp in db.
func Dump(t testing.TB, db *projections.DB, sp projections.SQLProjection) Tables {
	t.Helper()
	live := db.Live(sp.Name())
	out := Tables{}
	for _, name := range sp.Tables() {
		cols, rows := Rows(t, db, `SELECT * FROM `+live.Name(name))
		lines := make([]string, 0, len(rows))
		for _, r := range rows {
			parts := make([]string, len(r))
			for i, v := range r {
				parts[i] = cols[i] + "=" + v
			}
			lines = append(lines, strings.Join(parts, " "))
		}
		sort.Strings(lines)
		out[name] = lines
	}
	return out
}

// Rows runs query on db and returns its column names and every row's
// values as text (bytes as strings), in the order the database gave them.
func Rows(t testing.TB, db *projections.DB, query string) (cols []string, rows [][]string) {
	t.Helper()
	rs, err := db.QueryContext(context.Background(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	cols, err = rs.Columns()
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			row[i] = fmt.Sprint(v)
		}
		rows = append(rows, row)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return cols, rows
}

func open(t testing.TB, url string) *projections.DB {
	t.Helper()
	db, err := projections.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func config(store eventstore.Store, db *projections.DB) projections.Config {
	return projections.Config{
		Store:         store,
		DB:            db,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		RetryInterval: 5 * time.Millisecond,
		MaxRetries:    1,
		LockRetry:     50 * time.Millisecond,
		Heartbeat:     50 * time.Millisecond,
		RebuildBatch:  50, // several rebuild transactions even for a small ledger
	}
}

// build runs sp on the live path until it has folded the ledger head, then
// stops the runner.
func build(t testing.TB, store eventstore.Store, db *projections.DB, sp projections.SQLProjection) {
	t.Helper()
	r, err := projections.New(config(store, db))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Register(sp); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = r.Start(ctx) }()
	defer func() { cancel(); wg.Wait() }()
	head, err := store.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := r.WaitFor(wctx, sp.Name(), head.Position); err != nil {
		t.Fatalf("%s never reached the head %d: %v", sp.Name(), head.Position, err)
	}
}

// rebuild rebuilds sp from position 1 in this process.
func rebuild(t testing.TB, store eventstore.Store, db *projections.DB, sp projections.SQLProjection) {
	t.Helper()
	r, err := projections.New(config(store, db))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Register(sp); err != nil {
		t.Fatal(err)
	}
	if err := r.Rebuild(context.Background(), sp.Name(), 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
}

func readAll(t testing.TB, store eventstore.Store) []eventstore.Record {
	t.Helper()
	recs, err := store.ReadAll(context.Background(), 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}
