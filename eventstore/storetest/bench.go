package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authledger/authledger/eventstore"
)

// BenchAppend measures single-event appends from writers concurrent
// goroutines, each on its own stream with exact expected versions (the
// shape of command handlers), and reports events/s and latency percentiles.
func BenchAppend(b *testing.B, st eventstore.Store, writers int) {
	ctx := context.Background()
	data := json.RawMessage(`{"family":"0193b1a2-7c3d-7e4f-8a9b-0c1d2e3f4a5b","generation":7,"client_id":"svc-billing"}`)
	meta := json.RawMessage(`{"correlation_id":"c-1","actor":"client:svc-billing"}`)
	var (
		next      atomic.Int64
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, b.N)
		failed    atomic.Value
		wg        sync.WaitGroup
	)
	run := fmt.Sprintf("bench-%d-%d", writers, time.Now().UnixNano())
	b.ResetTimer()
	start := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprintf("%s-%d", run, w)
			var version uint64
			local := make([]time.Duration, 0, b.N/writers+1)
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				_, err := st.Append(ctx, eventstore.StreamAppend{Stream: stream, Expected: eventstore.Exact(version),
					Events: []eventstore.Event{{Type: "refreshtoken.rotated.v1", Data: data, Metadata: meta}}})
				local = append(local, time.Since(t0))
				if err != nil {
					failed.Store(err)
					return
				}
				version++
			}
			mu.Lock()
			latencies = append(latencies, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err, ok := failed.Load().(error); ok {
		b.Fatalf("append: %v", err)
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "events/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.95), "p95-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// BenchReadAll measures a feed's catch-up: reading the whole ledger in
// pages of eventstore.FeedBatch. It first appends n events if the ledger
// is shorter, outside the timer, and reports events/s.
func BenchReadAll(b *testing.B, st eventstore.Store, n int) {
	ctx := context.Background()
	data := json.RawMessage(`{"family":"0193b1a2-7c3d-7e4f-8a9b-0c1d2e3f4a5b","generation":7,"client_id":"svc-billing"}`)
	h, err := st.Head(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for have := int(h.Position); have < n; {
		batch := make([]eventstore.Event, min(500, n-have))
		for i := range batch {
			batch[i] = eventstore.Event{Type: "refreshtoken.rotated.v1", Data: data}
		}
		if _, err := st.Append(ctx, eventstore.StreamAppend{Stream: fmt.Sprintf("s-%d", have), Expected: eventstore.NoStream(), Events: batch}); err != nil {
			b.Fatal(err)
		}
		have += len(batch)
	}
	b.ResetTimer()
	start := time.Now()
	total := 0
	for b.Loop() {
		var after uint64
		for {
			recs, err := st.ReadAll(ctx, after, eventstore.FeedBatch)
			if err != nil {
				b.Fatal(err)
			}
			if len(recs) == 0 {
				break
			}
			total += len(recs)
			after = recs[len(recs)-1].Position
		}
	}
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "events/s")
}
