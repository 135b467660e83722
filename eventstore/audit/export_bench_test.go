package audit_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/audit"
)

// BenchmarkExport measures export throughput in events per second: the
// whole ledger, a segment of its middle half, and one subject's envelopes
// (every 11th event, as sealed's subjects fall), from the Store port.
func BenchmarkExport(b *testing.B) {
	recs := ledgerForBench(b)
	store := &sliceIndexStore{sliceStore{recs: recs}}
	n := uint64(len(recs))
	var subject []uint64
	for p := uint64(1); p <= n; p += 11 {
		subject = append(subject, p)
	}
	for _, c := range []struct {
		name   string
		events int
		run    func() error
	}{
		{"whole", len(recs), func() error { _, err := audit.Export(context.Background(), io.Discard, store); return err }},
		{"segment", int(n / 2), func() error {
			_, err := audit.ExportSegment(context.Background(), io.Discard, store, n/4+1, n/4+n/2)
			return err
		}},
		{"subject", len(subject), func() error {
			return audit.ExportEnvelopes(context.Background(), io.Discard, store, "s", subject)
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			start := time.Now()
			for b.Loop() {
				if err := c.run(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(c.events*b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// sliceIndexStore is sliceStore with ReadAll by index, so the benchmark
// measures the export, not a linear scan of the fixture.
type sliceIndexStore struct{ sliceStore }

// ReadAll relies on sealed's positions being 1, 2, 3 … in order.
func (s *sliceIndexStore) ReadAll(ctx context.Context, after uint64, limit int) ([]eventstore.Record, error) {
	if after >= uint64(len(s.recs)) {
		return nil, ctx.Err()
	}
	return s.recs[after:min(uint64(len(s.recs)), after+uint64(limit))], ctx.Err()
}
