package commands_test

import (
	"context"
	"crypto/ed25519"
	"slices"
	"testing"
	"time"

	"github.com/authledger/authledger/commands"
)

// reportPercentiles adds p50/p95/p99 of the sampled durations to the
// benchmark output (DESIGN.md §6: bars are percentiles).
func reportPercentiles(b *testing.B, d []time.Duration) {
	b.Helper()
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	at := func(q float64) float64 { return float64(d[int(q*float64(len(d)-1))].Nanoseconds()) / 1e3 }
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.95), "p95-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}

// BenchmarkKeyGeneration is the bare cost of a new key and its kid.
func BenchmarkKeyGeneration(b *testing.B) {
	d := make([]time.Duration, 0, b.N)
	for b.Loop() {
		t0 := time.Now()
		pub, _, err := ed25519.GenerateKey(nil)
		if err != nil {
			b.Fatal(err)
		}
		_ = commands.PublicJWK(pub)
		d = append(d, time.Since(t0))
	}
	reportPercentiles(b, d)
}

// BenchmarkRotateImmediately is a whole emergency rotation on a ring of
// one active key: generate, seal into the local provider (fsync + rename),
// append to the ledger. Each iteration starts from a fresh ring, untimed.
func BenchmarkRotateImmediately(b *testing.B) {
	ctx := context.Background()
	d := make([]time.Duration, 0, b.N)
	for b.Loop() {
		b.StopTimer()
		f := newFixtureTB(b)
		if _, err := f.keys.Tick(ctx, commands.Metadata{}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		if _, err := f.keys.Rotate(ctx, commands.RotateKeys{Immediately: true}, commands.Metadata{}); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(t0))
	}
	reportPercentiles(b, d)
}

// BenchmarkSign is one access token: claims check, EdDSA signature with the
// cached key, and the token.issued.v1 append (in-memory ledger).
func BenchmarkSign(b *testing.B) {
	f := newFixtureTB(b)
	ctx := context.Background()
	s, m := newSignerTB(b, f)
	if _, err := f.keys.Tick(ctx, commands.Metadata{}); err != nil {
		b.Fatal(err)
	}
	if err := m.Reload(ctx, f.store); err != nil {
		b.Fatal(err)
	}
	c := userClaims()
	d := make([]time.Duration, 0, b.N)
	for b.Loop() {
		t0 := time.Now()
		if _, err := s.Sign(ctx, c, commands.Metadata{}); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(t0))
	}
	reportPercentiles(b, d)
}
