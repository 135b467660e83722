package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/postgres"
	"github.com/authledger/authledger/eventstore/storetest"
	"github.com/authledger/authledger/internal/pgtest"
)

func appendOne(ctx context.Context, s eventstore.Store, stream string, expected eventstore.ExpectedVersion) ([]eventstore.Record, error) {
	return s.Append(ctx,
		eventstore.StreamAppend{Stream: stream, Expected: expected, Events: []eventstore.Event{{Type: "E", Data: json.RawMessage(`{}`)}}},
		eventstore.StreamAppend{Stream: "shared", Expected: eventstore.Any(), Events: []eventstore.Event{{Type: "S", Data: json.RawMessage(`{}`)}}},
	)
}

func TestTwoInstancesOnOneDatabaseKeepOneChain(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const perInstance, appends = 16, 10
	instances := []*postgres.Store{open(t, dsn, postgres.Options{}), open(t, dsn, postgres.Options{})}
	var wg sync.WaitGroup
	errs := make(chan error, len(instances)*perInstance)
	for i, s := range instances {
		for g := range perInstance {
			wg.Add(1)
			go func() {
				defer wg.Done()
				stream := fmt.Sprintf("instance-%d-writer-%d", i, g)
				for v := range appends {
					if _, err := appendOne(ctx, s, stream, eventstore.Exact(uint64(v))); err != nil {
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
	recs, err := instances[0].ReadAll(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := storetest.CheckChain(recs); err != nil {
		t.Fatalf("chain: %v", err)
	}
	if want := len(instances) * perInstance * appends * 2; len(recs) != want {
		t.Fatalf("ledger has %d records, want %d", len(recs), want)
	}
	// The second instance sees the same head.
	h0, err0 := instances[0].Head(ctx)
	h1, err1 := instances[1].Head(ctx)
	if err0 != nil || err1 != nil || h0 != h1 {
		t.Fatalf("heads differ: %+v %v / %+v %v", h0, err0, h1, err1)
	}
}

func TestTwoInstancesSeeEachOthersConflicts(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	ctx := context.Background()
	a, b := open(t, dsn, postgres.Options{}), open(t, dsn, postgres.Options{})
	if _, err := appendOne(ctx, a, "keyring", eventstore.NoStream()); err != nil {
		t.Fatal(err)
	}
	_, err := appendOne(ctx, b, "keyring", eventstore.NoStream())
	var vc *eventstore.VersionConflictError
	if !errors.As(err, &vc) || vc.Stream != "keyring" || vc.Actual != 1 {
		t.Fatalf("second instance's append: %v, want a conflict on keyring at 1", err)
	}
}

// feedWakeNever leaves the NOTIFY as the only way a feed learns of another
// instance's append.
const feedWakeNever = time.Hour

func receive(t *testing.T, ch <-chan eventstore.Record, want uint64) {
	t.Helper()
	select {
	case r := <-ch:
		if r.Position != want {
			t.Fatalf("feed delivered %d, want %d", r.Position, want)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("feed did not deliver position %d", want)
	}
}

func subscribe(t *testing.T, s eventstore.Store) <-chan eventstore.Record {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan eventstore.Record, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Subscribe(ctx, 0, func(_ context.Context, r eventstore.Record) error {
			ch <- r
			return nil
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return ch
}

func TestAnAppendOnOneInstanceWakesAFeedOnAnotherByNotify(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	a := open(t, dsn, postgres.Options{})
	b := open(t, dsn, postgres.Options{FeedWake: feedWakeNever})
	feed := subscribe(t, b)
	for i := range 3 {
		if _, err := appendOne(context.Background(), a, "s", eventstore.Exact(uint64(i))); err != nil {
			t.Fatal(err)
		}
		receive(t, feed, uint64(2*i+1))
		receive(t, feed, uint64(2*i+2))
	}
}

func TestTheListenerReconnectsAfterItsConnectionIsKilled(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	ctx := context.Background()
	a := open(t, dsn, postgres.Options{})
	b := open(t, dsn, postgres.Options{FeedWake: feedWakeNever})
	feed := subscribe(t, b)
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	listeners := func() []int32 {
		rows, err := admin.Query(ctx, `SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`)
		if err != nil {
			t.Fatal(err)
		}
		pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			t.Fatal(err)
		}
		return pids
	}
	// Both instances listen; kill both listeners, so b's must come back.
	waitFor(t, "two listeners", func() bool { return len(listeners()) == 2 })
	old := listeners()
	for _, pid := range old {
		if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "two new listeners", func() bool {
		now := listeners()
		return len(now) == 2 && now[0] != old[0] && now[0] != old[1] && now[1] != old[0] && now[1] != old[1]
	})
	if _, err := appendOne(ctx, a, "s", eventstore.NoStream()); err != nil {
		t.Fatal(err)
	}
	receive(t, feed, 1)
	receive(t, feed, 2)
}

// waitFor polls cond; it bounds waiting for another goroutine's
// reconnection, it does not measure it.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestConcurrentOpensMigrateOnce(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.Open(context.Background(), dsn, postgres.Options{})
			if err != nil {
				errs <- err
				return
			}
			errs <- s.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("open: %v", err)
		}
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var versions []int32
	rows, _ := conn.Query(context.Background(), `SELECT version FROM schema_migrations ORDER BY version`)
	if versions, err = pgx.CollectRows(rows, pgx.RowTo[int32]); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(versions) != "[1]" {
		t.Fatalf("schema_migrations = %v, want [1]", versions)
	}
}

func TestALedgerFromANewerBinaryIsRefused(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	s := open(t, dsn, postgres.Options{})
	_ = s.Close()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `INSERT INTO schema_migrations (version) VALUES (99)`); err != nil {
		t.Fatal(err)
	}
	if s, err := postgres.Open(context.Background(), dsn, postgres.Options{}); err == nil {
		s.Close()
		t.Fatal("opened a ledger whose schema is newer than this binary")
	} else if !strings.Contains(err.Error(), "newer") {
		t.Fatalf("err = %v", err)
	}
}

func TestAnInvalidDSNIsNotEchoed(t *testing.T) {
	t.Parallel()
	_, err := postgres.Open(context.Background(), "postgres://u:sekrit@127.0.0.1:5432/db?sslmode=bogus", postgres.Options{})
	if err == nil || strings.Contains(err.Error(), "sekrit") {
		t.Fatalf("err = %v, want an error without the password", err)
	}
}
