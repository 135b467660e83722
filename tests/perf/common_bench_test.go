package perf_test

import (
	"context"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/postgres"
	"github.com/authledger/authledger/eventstore/sqlite"
	"github.com/authledger/authledger/internal/pgtest"
)

// benchLedger is one durable ledger the grant benchmarks run on.
type benchLedger struct {
	name string
	open func(b *testing.B) eventstore.Store
}

// benchLedgers are the two durable adapters: a SQLite file and a fresh
// database on the local PostgreSQL.
var benchLedgers = []benchLedger{
	{"sqlite", func(b *testing.B) eventstore.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "ledger.db"), sqlite.Options{})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}},
	{"postgres", func(b *testing.B) eventstore.Store {
		s, err := postgres.Open(context.Background(), pgtest.NewDatabase(b), postgres.Options{})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}},
}

// reportLatency reports p50/p95/p99 of lat in milliseconds (it sorts lat).
func reportLatency(b *testing.B, lat []time.Duration) {
	b.Helper()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.95), "p95-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// cpuTime is the CPU time (user + system) the whole process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
