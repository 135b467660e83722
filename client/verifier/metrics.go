package verifier

import (
	"errors"
	"time"
)

// Observer receives every verification's latency, result ("ok" or
// "error") and Reason, for a latency histogram. The verifier imports no
// metrics library, so importing it pulls in none: the server adapts
// Prometheus to it (internal/opsmetrics), and client/README.md shows the
// few lines a resource server needs for the same
// authledger_jwt_verification_duration_seconds series.
type Observer interface {
	ObserveVerification(d time.Duration, result, reason string)
}

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

// Reason is the bounded label for a verification error: "none" for nil,
// one word per failure family otherwise ("malformed" for the rest).
func Reason(err error) string {
	if err == nil {
		return "none"
	}
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return "malformed"
}

func (v *Verifier) observe(d time.Duration, err error) {
	if v.cfg.Observer == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	v.cfg.Observer.ObserveVerification(d, result, Reason(err))
}
