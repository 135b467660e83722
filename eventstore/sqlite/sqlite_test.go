package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/sqlite"
	"github.com/authledger/authledger/eventstore/storetest"
)

func open(t *testing.T, path string, opt sqlite.Options) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, opt)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func appendOne(ctx context.Context, s eventstore.Store, stream string, expected eventstore.ExpectedVersion) error {
	_, err := s.Append(ctx,
		eventstore.StreamAppend{Stream: stream, Expected: expected, Events: []eventstore.Event{{Type: "E", Data: json.RawMessage(`{}`)}}},
		eventstore.StreamAppend{Stream: "shared", Expected: eventstore.Any(), Events: []eventstore.Event{{Type: "S", Data: json.RawMessage(`{}`)}}},
	)
	return err
}

// Two stores on one file stand for the server and a CLI command running
// beside it: BEGIN IMMEDIATE serializes their transactions.
func TestTwoStoresOnOneFileKeepOneChain(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ledger.db")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const perStore, appends = 8, 10
	stores := []*sqlite.Store{open(t, path, sqlite.Options{}), open(t, path, sqlite.Options{})}
	var wg sync.WaitGroup
	errs := make(chan error, len(stores)*perStore)
	for i, s := range stores {
		for g := range perStore {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for v := range appends {
					if err := appendOne(ctx, s, fmt.Sprintf("store-%d-writer-%d", i, g), eventstore.Exact(uint64(v))); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	recs, err := stores[1].ReadAll(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := storetest.CheckChain(recs); err != nil {
		t.Fatalf("chain: %v", err)
	}
	if want := len(stores) * perStore * appends * 2; len(recs) != want {
		t.Fatalf("ledger has %d records, want %d", len(recs), want)
	}
}

func TestAFeedSeesAnotherStoresAppendsOnItsWakeUp(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ledger.db")
	writer := open(t, path, sqlite.Options{})
	reader := open(t, path, sqlite.Options{FeedWake: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan eventstore.Record, 8)
	done := make(chan error, 1)
	go func() {
		done <- reader.Subscribe(ctx, 0, func(_ context.Context, r eventstore.Record) error { ch <- r; return nil })
	}()
	if err := appendOne(context.Background(), writer, "s", eventstore.NoStream()); err != nil {
		t.Fatal(err)
	}
	for want := uint64(1); want <= 2; want++ {
		select {
		case r := <-ch:
			if r.Position != want {
				t.Fatalf("feed delivered %d, want %d", r.Position, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("feed did not deliver position %d", want)
		}
	}
	cancel()
	<-done
}

func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestMigrationsAreRecordedAndAppliedOnce(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ledger.db")
	s := open(t, path, sqlite.Options{})
	if err := appendOne(context.Background(), s, "s", eventstore.NoStream()); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	s = open(t, path, sqlite.Options{})
	if h, err := s.Head(context.Background()); err != nil || h.Position != 2 {
		t.Fatalf("reopened head = %+v, %v", h, err)
	}
	_ = s.Close()
	db := rawDB(t, path)
	var versions string
	if err := db.QueryRow(`SELECT group_concat(version) FROM schema_migrations`).Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if versions != "1" {
		t.Fatalf("schema_migrations = %q, want 1", versions)
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v, want wal", mode, err)
	}
	var data, at string
	if err := db.QueryRow(`SELECT data, recorded_at FROM events WHERE position = 1`).Scan(&data, &at); err != nil {
		t.Fatal(err)
	}
	if data != "{}" {
		t.Fatalf("data column = %q", data)
	}
	if _, err := eventstore.ParseTime(at); err != nil {
		t.Fatalf("recorded_at column: %v", err)
	}
}

func TestALedgerFromANewerBinaryIsRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ledger.db")
	_ = open(t, path, sqlite.Options{}).Close()
	if _, err := rawDB(t, path).Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (99, 'x')`); err != nil {
		t.Fatal(err)
	}
	if s, err := sqlite.Open(context.Background(), path, sqlite.Options{}); err == nil {
		s.Close()
		t.Fatal("opened a ledger whose schema is newer than this binary")
	} else if !strings.Contains(err.Error(), "newer") {
		t.Fatalf("err = %v", err)
	}
}

func TestAMissingDirectoryIsCreated(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "fresh #1", "100% data?", "ledger.db")
	s := open(t, path, sqlite.Options{})
	if err := appendOne(context.Background(), s, "s", eventstore.NoStream()); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("ledger directory: %v %v", fi, err)
	}
	// The name's %, ? and # reach the file system as they are.
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("ledger file: %v", err)
	}
}
