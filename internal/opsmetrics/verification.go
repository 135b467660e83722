package opsmetrics

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Verifications is authledger_jwt_verification_duration_seconds{result,
// reason}: client/verifier's Observer on a Prometheus histogram. The
// verifier itself imports no metrics library, so resource servers that
// import it pull in none.
type Verifications struct{ h *prometheus.HistogramVec }

// NewVerifications registers the histogram on reg, or reuses the one
// already there, so several verifiers share the series.
func NewVerifications(reg prometheus.Registerer) (*Verifications, error) {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "authledger_jwt_verification_duration_seconds",
		Help: "JWT verification latency by result (ok, error) and reason of a refusal (none when ok).",
		// Ed25519 verification costs about 100 µs; the buckets resolve it.
		Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .05, .25},
	}, []string{"result", "reason"})
	if err := reg.Register(h); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, err
		}
		existing, ok := are.ExistingCollector.(*prometheus.HistogramVec)
		if !ok {
			return nil, err
		}
		h = existing
	}
	return &Verifications{h: h}, nil
}

// ObserveVerification implements verifier.Observer.
func (v *Verifications) ObserveVerification(d time.Duration, result, reason string) {
	v.h.WithLabelValues(result, reason).Observe(d.Seconds())
}
