package perf_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authledger/authledger/domain/token"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/postgres"
	"github.com/authledger/authledger/eventstore/sqlite"
	"github.com/authledger/authledger/internal/pgtest"
	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// startupSizes are the ledger lengths BenchmarkStartupToReady measures:
// AUTHLEDGER_BENCH_STARTUP_EVENTS (comma-separated, e.g. 1000000,5000000),
// 100,000 by default so that `make bench` stays short.
func startupSizes(b *testing.B) []int {
	raw := os.Getenv("AUTHLEDGER_BENCH_STARTUP_EVENTS")
	if raw == "" {
		return []int{100_000}
	}
	var out []int
	for _, f := range strings.Split(raw, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("AUTHLEDGER_BENCH_STARTUP_EVENTS: %q is not a positive count", f)
		}
		out = append(out, n)
	}
	return out
}

// fillLedger appends n M2M token issuances (the bulk of a real ledger) in
// appends of 2,000 events on one stream each, from 4 writers so group
// commit batches them: the fast way to a long ledger, through the store, so
// the chain is real.
func fillLedger(b *testing.B, store eventstore.Store, n int) time.Duration {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	now := time.Now().UTC()
	const batch, writers = 2000, 4
	jobs := make(chan int)
	errs := make(chan error, writers)
	for range writers {
		go func() {
			for k := range jobs {
				evs := make([]eventstore.Event, k)
				for i := range evs {
					data, err := json.Marshal(token.IssuedEvent{JTI: uuid.NewString(), Class: token.M2M, Subject: "svc-bench", ClientID: "svc-bench",
						Audience: []string{"api"}, KeyID: "bench", IssuedAt: now, ExpiresAt: now.Add(-time.Minute)})
					if err != nil {
						errs <- err
						return
					}
					evs[i] = eventstore.Event{Type: token.TypeIssued, Data: data}
				}
				if _, err := store.Append(ctx, eventstore.StreamAppend{Stream: token.Stream(uuid.NewString()), Expected: eventstore.NoStream(), Events: evs}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for done := 0; done < n; done += batch {
		jobs <- min(batch, n-done)
	}
	close(jobs)
	for range writers {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

// BenchmarkStartupToReady measures the time from starting `authledger
// serve` to its first /readyz 200 on a ledger of N events, on SQLite and
// PostgreSQL: once cold (no snapshot: the memory read models fold the whole
// ledger) and then warm (the snapshots the cold run left at its stop, plus
// what came after them), which is every start after the first. The warm
// figure is the one that must not grow with the ledger.
//
//	AUTHLEDGER_BENCH_STARTUP_EVENTS=1000000,5000000 go test -run '^$' -bench StartupToReady -benchtime 1x -timeout 60m ./tests/perf/
func BenchmarkStartupToReady(b *testing.B) {
	bin := e2eharness.Binary(b)
	for _, n := range startupSizes(b) {
		for _, engine := range []string{"sqlite", "postgres"} {
			b.Run(fmt.Sprintf("%s/events=%d", engine, n), func(b *testing.B) {
				dataDir := b.TempDir()
				env := map[string]string{}
				var open func() eventstore.Store
				switch engine {
				case "sqlite":
					open = func() eventstore.Store {
						s, err := sqlite.Open(context.Background(), filepath.Join(dataDir, "ledger.db"), sqlite.Options{})
						if err != nil {
							b.Fatal(err)
						}
						return s
					}
				case "postgres":
					dsn := pgtest.NewDatabase(b)
					env["AUTHLEDGER_STORE"] = dsn
					open = func() eventstore.Store {
						s, err := postgres.Open(context.Background(), dsn, postgres.Options{})
						if err != nil {
							b.Fatal(err)
						}
						return s
					}
				}
				opt := e2eharness.Options{DataDir: dataDir, Env: env, ReadyTimeout: 30 * time.Minute, StopTimeout: 2 * time.Minute}
				// First start: the key ring and secrets, on an empty ledger.
				srv := e2eharness.Start(b, bin, opt)
				if _, err := srv.Stop(); err != nil {
					b.Fatal(err)
				}
				store := open()
				took := fillLedger(b, store, n)
				if err := store.Close(); err != nil {
					b.Fatal(err)
				}
				b.Logf("%s: %d events appended in %s (%.0f events/s)", engine, n, took.Round(time.Millisecond), float64(n)/took.Seconds())

				start := time.Now()
				srv = e2eharness.Start(b, bin, opt)
				cold := time.Since(start)
				if _, err := srv.Stop(); err != nil { // saves the snapshots
					b.Fatal(err)
				}
				b.ResetTimer()
				var warm time.Duration
				for range b.N {
					start := time.Now()
					srv = e2eharness.Start(b, bin, opt)
					warm += time.Since(start)
					b.StopTimer()
					if !strings.Contains(srv.Logs(), `"msg":"memory snapshot loaded"`) {
						b.Errorf("the warm start loaded no snapshot:\n%s", srv.Logs())
					}
					if _, err := srv.Stop(); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				b.ReportMetric(cold.Seconds(), "cold-s")
				b.ReportMetric(warm.Seconds()/float64(b.N), "warm-s")
			})
		}
	}
}
