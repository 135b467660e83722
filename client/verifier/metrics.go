package verifier

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// reasons bound the reason label: one value per failure family, so a
// flood of bad tokens cannot mint series.
var reasons = []struct {
	err    error
	reason string
}{
	{ErrExpired, "expired"},
	{ErrNotYetValid, "not_yet_valid"},
	{ErrIssuedInFuture, "not_yet_valid"},
	{ErrRevoked, "revoked"},
	{ErrKeyRevoked, "revoked"},
	{ErrBadSignature, "bad_signature"},
	{ErrUnknownKey, "unknown_key"},
	{ErrJWKSStale, "jwks_unavailable"},
	{ErrJWKSUnavailable, "jwks_unavailable"},
	{ErrWrongIssuer, "wrong_issuer"},
	{ErrWrongAudience, "wrong_audience"},
	{ErrNoToken, "no_token"},
}

func reasonOf(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return "malformed"
}

func registerMetrics(reg prometheus.Registerer) (*prometheus.HistogramVec, error) {
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
	return h, nil
}

func (v *Verifier) observe(d time.Duration, err error) {
	if err == nil {
		v.metrics.WithLabelValues("ok", "none").Observe(d.Seconds())
		return
	}
	v.metrics.WithLabelValues("error", reasonOf(err)).Observe(d.Seconds())
}
