package opsmetrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RateLimiter is api.RateLimiter, restated so this package does not import
// the HTTP layer.
type RateLimiter interface {
	ChargeFailure(ctx context.Context, clientID, addr string, now time.Time) (time.Duration, bool)
	SpendClass(ctx context.Context, clientID, class string, now time.Time) (time.Duration, bool)
}

// CountRefusals wraps l so that every refusal is counted in
// authledger_rate_limit_refusals_total{budget}: "failure" (failed
// authentications of a client and address) or "request" (an authenticated
// client's request budget).
func CountRefusals(l RateLimiter, reg prometheus.Registerer) (RateLimiter, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authledger_rate_limit_refusals_total", Help: "Requests refused with 429 by a rate limit, by budget (failure, request).",
	}, []string{"budget"})
	if err := reg.Register(c); err != nil {
		return nil, err
	}
	return &countingLimiter{l: l, failure: c.WithLabelValues("failure"), request: c.WithLabelValues("request")}, nil
}

type countingLimiter struct {
	l                RateLimiter
	failure, request prometheus.Counter
}

func (c *countingLimiter) ChargeFailure(ctx context.Context, clientID, addr string, now time.Time) (time.Duration, bool) {
	wait, ok := c.l.ChargeFailure(ctx, clientID, addr, now)
	if !ok {
		c.failure.Inc()
	}
	return wait, ok
}

func (c *countingLimiter) SpendClass(ctx context.Context, clientID, class string, now time.Time) (time.Duration, bool) {
	wait, ok := c.l.SpendClass(ctx, clientID, class, now)
	if !ok {
		c.request.Inc()
	}
	return wait, ok
}
