package opsmetrics_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authledger/authledger/internal/opsmetrics"
)

// Two verifiers on one registry share the series rather than failing to
// register it twice.
func TestVerificationsShareOneHistogram(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := opsmetrics.NewVerifications(reg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := opsmetrics.NewVerifications(reg)
	if err != nil {
		t.Fatalf("second registration: %v", err)
	}
	a.ObserveVerification(time.Millisecond, "error", "malformed")
	b.ObserveVerification(time.Millisecond, "error", "malformed")
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, f := range fams {
		if f.GetName() == "authledger_jwt_verification_duration_seconds" {
			for _, m := range f.GetMetric() {
				n += m.GetHistogram().GetSampleCount()
			}
		}
	}
	if n != 2 {
		t.Fatalf("observed %d verifications, want 2", n)
	}
}
