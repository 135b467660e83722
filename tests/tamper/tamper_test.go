package tamper

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/audit"
	"github.com/authledger/authledger/eventstore/postgres"
	"github.com/authledger/authledger/eventstore/sqlite"
	"github.com/authledger/authledger/internal/pgtest"
)

// ledgerSize events are appended before each tampering; the tampering aims
// at position 4 of them.
const ledgerSize = 8

// t0 is the clock of the appends, so a tampered timestamp is a real change.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 8000, time.UTC)

// db abstracts the two SQL dialects the cases run against.
type db interface {
	exec(t *testing.T, query string, args ...any)
	// placeholder renders the n-th (1-based) bind parameter.
	placeholder(n int) string
	readRow(t *testing.T, pos uint64) eventstore.Record
}

// tamperCase edits the ledger through db and names the position the
// verifier must report (0: the chain must still hold).
type tamperCase struct {
	name   string
	tamper func(t *testing.T, d db)
	want   uint64
}

var cases = []tamperCase{
	{"editing one row's data breaks the chain at that row", func(t *testing.T, d db) {
		d.exec(t, `UPDATE events SET data = `+d.placeholder(1)+` WHERE position = 4`, `{"subject":"sub-mallory","n":4}`)
	}, 4},
	{"editing one row's metadata breaks the chain at that row", func(t *testing.T, d db) {
		d.exec(t, `UPDATE events SET metadata = `+d.placeholder(1)+` WHERE position = 4`, `{"actor":"mallory"}`)
	}, 4},
	{"editing one row's type breaks the chain at that row", func(t *testing.T, d db) {
		d.exec(t, `UPDATE events SET type = 'session.elevated.v1' WHERE position = 4`)
	}, 4},
	{"editing one row's timestamp breaks the chain at that row", func(t *testing.T, d db) {
		d.exec(t, `UPDATE events SET recorded_at = `+d.placeholder(1)+` WHERE position = 4`, timeArg(d, t0.Add(-time.Hour)))
	}, 4},
	{"reformatting one row's data without changing its meaning keeps the chain", func(t *testing.T, d db) {
		d.exec(t, `UPDATE events SET data = `+d.placeholder(1)+` WHERE position = 4`, "{ \"n\" : 4,\n \"subject\" : \"sub-1\" }")
	}, 0},
	{"deleting a row names the missing position", func(t *testing.T, d db) {
		d.exec(t, `DELETE FROM events WHERE position = 4`)
	}, 4},
	{"deleting the last row and rewriting nothing else is invisible without a checkpoint", func(t *testing.T, d db) {
		d.exec(t, fmt.Sprintf(`DELETE FROM events WHERE position = %d`, ledgerSize))
	}, 0},
	{"inserting a well-hashed forged row and renumbering the rest breaks at the row after it", func(t *testing.T, d db) {
		prev := d.readRow(t, 3)
		shiftFrom(t, d, 4)
		forged := eventstore.Record{
			Position: 4, Stream: "client-evil", Version: 1, ID: uuid.Must(uuid.NewV7()).String(),
			Type: "client.registered.v1", RecordedAt: prev.RecordedAt, Data: json.RawMessage(`{"scopes":["admin"]}`),
			Metadata: json.RawMessage(`{}`), PrevHash: prev.Hash,
		}
		h, err := eventstore.ComputeHash(forged)
		if err != nil {
			t.Fatal(err)
		}
		forged.Hash = h
		insert(t, d, forged)
	}, 5},
	{"inserting a row with a made-up hash breaks at that row", func(t *testing.T, d db) {
		prev := d.readRow(t, 3)
		shiftFrom(t, d, 4)
		insert(t, d, eventstore.Record{
			Position: 4, Stream: "client-evil", Version: 1, ID: uuid.Must(uuid.NewV7()).String(),
			Type: "client.registered.v1", RecordedAt: prev.RecordedAt, Data: json.RawMessage(`{}`),
			Metadata: json.RawMessage(`{}`), PrevHash: prev.Hash, Hash: strings.Repeat("ab", 32),
		})
	}, 4},
	{"swapping two rows names the first of them", func(t *testing.T, d db) {
		d.exec(t, `UPDATE events SET position = -4 WHERE position = 4`)
		d.exec(t, `UPDATE events SET position = 4 WHERE position = 5`)
		d.exec(t, `UPDATE events SET position = 5 WHERE position = -4`)
	}, 4},
}

// shiftFrom renumbers every row at or after pos one place up, making room
// for an inserted row (through negative positions, so the primary key never
// collides half-way).
func shiftFrom(t *testing.T, d db, pos int) {
	d.exec(t, fmt.Sprintf(`UPDATE events SET position = -(position + 1) WHERE position >= %d`, pos))
	d.exec(t, `UPDATE events SET position = -position WHERE position < 0`)
}

func insert(t *testing.T, d db, r eventstore.Record) {
	var ph []string
	for i := 1; i <= 10; i++ {
		ph = append(ph, d.placeholder(i))
	}
	d.exec(t, `INSERT INTO events (position, stream, version, id, type, recorded_at, data, metadata, prev_hash, hash) VALUES (`+strings.Join(ph, ", ")+`)`,
		int64(r.Position), r.Stream, int64(r.Version), r.ID, r.Type, timeArg(d, r.RecordedAt), string(r.Data), string(r.Metadata), r.PrevHash, r.Hash)
}

// timeArg is recorded_at as each schema stores it: TEXT in SQLite,
// timestamptz in PostgreSQL.
func timeArg(d db, t time.Time) any {
	if _, ok := d.(*sqliteDB); ok {
		return eventstore.FormatTime(t)
	}
	return t
}

// fill appends ledgerSize events over three streams, some in one atomic
// append, with a clock that advances a few microseconds per call.
func fill(t *testing.T, s eventstore.Store) eventstore.Head {
	t.Helper()
	ctx := context.Background()
	for i := 1; i <= ledgerSize; {
		var appends []eventstore.StreamAppend
		for _, stream := range []string{"session-1", "family-2", "keyring"}[:1+i%2] {
			appends = append(appends, eventstore.StreamAppend{Stream: stream, Events: []eventstore.Event{{
				Type: "session.started.v1", Data: json.RawMessage(fmt.Sprintf(`{"subject":"sub-1","n":%d}`, i)),
				Metadata: json.RawMessage(`{"actor":"test","request_id":"r"}`),
			}}})
			i++
			if i > ledgerSize {
				break
			}
		}
		if _, err := s.Append(ctx, appends...); err != nil {
			t.Fatal(err)
		}
	}
	h, err := s.Head(ctx)
	if err != nil || h.Position != ledgerSize {
		t.Fatalf("head %+v, %v", h, err)
	}
	return h
}

func clock() func() time.Time {
	now := t0
	return func() time.Time { now = now.Add(3 * time.Microsecond); return now }
}

func check(t *testing.T, s eventstore.Store, want uint64) {
	t.Helper()
	_, err := audit.Verify(context.Background(), s, audit.Options{})
	if want == 0 {
		if err != nil {
			t.Fatalf("want the chain to hold, got %v", err)
		}
		return
	}
	var ae *audit.Error
	if !errors.As(err, &ae) || ae.Position != want {
		t.Fatalf("want a break at position %d, got %v", want, err)
	}
}

type sqliteDB struct{ db *sql.DB }

func (d *sqliteDB) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := d.db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
func (d *sqliteDB) placeholder(n int) string { return "?" }
func (d *sqliteDB) readRow(t *testing.T, pos uint64) eventstore.Record {
	t.Helper()
	var r eventstore.Record
	var at string
	err := d.db.QueryRow(`SELECT position, hash, recorded_at FROM events WHERE position = ?`, int64(pos)).Scan(&r.Position, &r.Hash, &at)
	if err != nil {
		t.Fatal(err)
	}
	if r.RecordedAt, err = eventstore.ParseTime(at); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestTamperingWithAnSQLiteFileIsNamed(t *testing.T) {
	t.Parallel()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "ledger.db")
			s, err := sqlite.Open(ctx, path, sqlite.Options{Now: clock()})
			if err != nil {
				t.Fatal(err)
			}
			fill(t, s)
			check(t, s, 0)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			raw, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			tc.tamper(t, &sqliteDB{raw})
			if err := raw.Close(); err != nil {
				t.Fatal(err)
			}

			s, err = sqlite.Open(ctx, path, sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			check(t, s, tc.want)
		})
	}
}

type pgDB struct {
	conn *pgx.Conn
}

func (d *pgDB) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := d.conn.Exec(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
func (d *pgDB) placeholder(n int) string { return fmt.Sprintf("$%d", n) }
func (d *pgDB) readRow(t *testing.T, pos uint64) eventstore.Record {
	t.Helper()
	var r eventstore.Record
	var p int64
	err := d.conn.QueryRow(context.Background(), `SELECT position, hash, recorded_at FROM events WHERE position = $1`, int64(pos)).Scan(&p, &r.Hash, &r.RecordedAt)
	if err != nil {
		t.Fatal(err)
	}
	r.Position, r.RecordedAt = uint64(p), r.RecordedAt.UTC()
	return r
}

func TestTamperingWithAPostgreSQLDatabaseIsNamed(t *testing.T) {
	t.Parallel()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn := pgtest.NewDatabase(t)
			s, err := postgres.Open(ctx, dsn, postgres.Options{Now: clock(), MaxConns: 2})
			if err != nil {
				t.Fatal(err)
			}
			fill(t, s)
			check(t, s, 0)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			tc.tamper(t, &pgDB{conn})
			if err := conn.Close(ctx); err != nil {
				t.Fatal(err)
			}

			s, err = postgres.Open(ctx, dsn, postgres.Options{MaxConns: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			check(t, s, tc.want)
		})
	}
}
