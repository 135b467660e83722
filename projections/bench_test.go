package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/eventstore/postgres"
	"github.com/authledger/authledger/eventstore/sqlite"
	"github.com/authledger/authledger/projections"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func percentiles(b *testing.B, unit string, xs []time.Duration) {
	if len(xs) == 0 {
		return
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
	at := func(q float64) float64 {
		return float64(xs[min(len(xs)-1, int(q*float64(len(xs))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), "p50-"+unit)
	b.ReportMetric(at(0.95), "p95-"+unit)
	b.ReportMetric(at(0.99), "p99-"+unit)
}

// BenchmarkRebuild measures a shadow rebuild from position 1 and the swap,
// in events per second. AUTHLEDGER_BENCH_EVENTS sets the ledger size
// (default 50,000; the figure is for 1,000,000).
func BenchmarkRebuild(b *testing.B) {
	n := envInt("AUTHLEDGER_BENCH_EVENTS", 50000)
	store := memstore.New(nil)
	ctx := context.Background()
	for done := 0; done < n; {
		k := min(200, n-done)
		evs := make([]eventstore.Event, k)
		for i := range evs {
			evs[i] = eventstore.Event{Type: typeAdded, Data: json.RawMessage(fmt.Sprintf(`{"v":%d}`, done+i))}
		}
		if _, err := store.Append(ctx, eventstore.StreamAppend{Stream: fmt.Sprintf("s-%d", done%997), Expected: eventstore.Any(), Events: evs}); err != nil {
			b.Fatal(err)
		}
		done += k
	}
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			db := openDB(b, e.open(b))
			cfg := testConfig(store, db)
			cfg.RebuildBatch = 5000
			r, err := projections.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			if err := r.Register(newCounter("counter.v1")); err != nil {
				b.Fatal(err)
			}
			var batches []time.Duration
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				last := time.Now()
				err := r.Rebuild(ctx, "counter.v1", time.Minute, func(p projections.Progress) {
					now := time.Now()
					batches = append(batches, now.Sub(last))
					last = now
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			el := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(n*b.N)/el.Seconds(), "events/s")
			percentiles(b, "ms/batch", batches)
		})
	}
}

// BenchmarkLag measures how long after its append returns an event is in
// the read model (the live path: one transaction per record), while
// appends run at ~1,000 events/s on a durable ledger. AUTHLEDGER_BENCH_LAG_EVENTS
// sets how many events (default 3,000).
func BenchmarkLag(b *testing.B) {
	n := envInt("AUTHLEDGER_BENCH_LAG_EVENTS", 3000)
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) { benchLag(b, e.name, e.open, n) })
	}
}

func benchLag(b *testing.B, engine string, open func(testing.TB) string, n int) {
	ctx := context.Background()
	var store eventstore.Store
	var err error
	if engine == "sqlite" {
		store, err = sqlite.Open(ctx, b.TempDir()+"/ledger.db", sqlite.Options{})
	} else {
		store, err = postgres.Open(ctx, open(b), postgres.Options{})
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	db := openDB(b, open(b))
	cfg := testConfig(store, db)
	cfg.Heartbeat = time.Second
	r := startRunner(b, cfg, newCounter("counter.v1"))
	var lags []time.Duration
	var rates float64
	b.ResetTimer()
	for range b.N {
		l, rate := measureLag(b, store, r, n)
		lags = append(lags, l...)
		rates += rate
	}
	b.StopTimer()
	b.ReportMetric(rates/float64(b.N), "appends/s")
	percentiles(b, "ms-lag", lags)
}

// measureLag appends n events on an open-loop schedule of one per
// millisecond (1,000 events/s) and returns each event's lag, and the append
// rate achieved from the first scheduled append to the last one returning.
func measureLag(b *testing.B, store eventstore.Store, r *running, n int) ([]time.Duration, float64) {
	ctx := context.Background()
	type sample struct {
		pos uint64
		at  time.Time
	}
	samples := make(chan sample, n)
	// Twenty appenders share the schedule: event k is due at start + k ms
	// and goes out as soon as one is free, so a durable append taking
	// several milliseconds (the ledger group-commits) does not lower the
	// rate, and a late one is sent at once rather than dropped.
	const appenders = 20
	start := time.Now()
	var next atomic.Int64
	var lastDone atomic.Int64
	var wg sync.WaitGroup
	for w := range appenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := next.Add(1) - 1
				if k >= int64(n) {
					return
				}
				time.Sleep(time.Until(start.Add(time.Duration(k) * time.Millisecond)))
				recs, err := store.Append(ctx, eventstore.StreamAppend{Stream: fmt.Sprintf("lag-%d", w), Expected: eventstore.Any(),
					Events: []eventstore.Event{{Type: typeAdded, Data: json.RawMessage(fmt.Sprintf(`{"v":%d}`, k))}}})
				if err != nil {
					b.Error(err)
					return
				}
				now := time.Now()
				samples <- sample{recs[0].Position, now}
				for {
					d := lastDone.Load()
					if int64(now.Sub(start)) <= d || lastDone.CompareAndSwap(d, int64(now.Sub(start))) {
						break
					}
				}
			}
		}()
	}
	go func() { wg.Wait(); close(samples) }()
	var lags []time.Duration
	for s := range samples {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := r.WaitFor(wctx, "counter.v1", s.pos)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		lags = append(lags, time.Since(s.at))
	}
	return lags, float64(len(lags)) / time.Duration(lastDone.Load()).Seconds()
}
