package main

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/ratelimit"
)

// RateLimitConfig is the per-client request budgets (docs/api.md "Rate
// limits"). A class rate of 0 makes that class spend the client's one
// PerClient budget; a burst of 0 is twice its rate. A client registered
// with its own rate (services register --rate-limit) uses that instead.
type RateLimitConfig struct {
	RateLimitPerClient      float64 `env:"RATE_LIMIT_PER_CLIENT" envDefault:"100"`
	RateLimitPerClientBurst int     `env:"RATE_LIMIT_PER_CLIENT_BURST" envDefault:"200"`
	// Per endpoint class: /oauth2/token, /oauth2/introspect, /oauth2/revoke, /v1.
	RateLimitToken              float64 `env:"RATE_LIMIT_TOKEN"`
	RateLimitTokenBurst         int     `env:"RATE_LIMIT_TOKEN_BURST"`
	RateLimitIntrospection      float64 `env:"RATE_LIMIT_INTROSPECTION"`
	RateLimitIntrospectionBurst int     `env:"RATE_LIMIT_INTROSPECTION_BURST"`
	RateLimitRevocation         float64 `env:"RATE_LIMIT_REVOCATION"`
	RateLimitRevocationBurst    int     `env:"RATE_LIMIT_REVOCATION_BURST"`
	RateLimitV1                 float64 `env:"RATE_LIMIT_V1"`
	RateLimitV1Burst            int     `env:"RATE_LIMIT_V1_BURST"`
	// RateLimitSyncEvery is how often an instance reconciles its
	// request budgets with Redis (production profile only); 0 asks Redis
	// on every request instead (exact across instances, one round trip
	// each).
	RateLimitSyncEvery time.Duration `env:"RATE_LIMIT_SYNC_EVERY" envDefault:"100ms"`
}

const maxConfiguredRate = client.MaxRatePerSecond

// limits turns the settings into ratelimit.Limits, or names the bad one.
func (c RateLimitConfig) limits() (ratelimit.Limits, []error) {
	var errs []error
	rt := func(name string, r float64, burst int, required bool) ratelimit.Rate {
		switch {
		case r < 0 || r > maxConfiguredRate || math.IsNaN(r) || (required && r == 0):
			errs = append(errs, fmt.Errorf("%sRATE_LIMIT_%s: must be a rate per second in (0, %d]", envPrefix, name, maxConfiguredRate))
		case burst < 0 || burst > client.MaxRateBurst:
			errs = append(errs, fmt.Errorf("%sRATE_LIMIT_%s_BURST: must be 0..%d", envPrefix, name, client.MaxRateBurst))
		case r == 0:
			return ratelimit.Rate{}
		}
		if burst == 0 {
			burst = max(1, int(math.Ceil(2*r)))
		}
		return ratelimit.Rate{PerSecond: rate.Limit(r), Burst: burst}
	}
	l := ratelimit.DefaultLimits()
	if c.RateLimitPerClient != 0 { // 0 (a Config built in code): the default
		def := rt("PER_CLIENT", c.RateLimitPerClient, c.RateLimitPerClientBurst, true)
		l.PerClient, l.PerClientBurst = def.PerSecond, def.Burst
	}
	l.Classes = map[string]ratelimit.Rate{}
	for _, cl := range []struct {
		class, name string
		r           float64
		burst       int
	}{
		{ratelimit.ClassToken, "TOKEN", c.RateLimitToken, c.RateLimitTokenBurst},
		{ratelimit.ClassIntrospection, "INTROSPECTION", c.RateLimitIntrospection, c.RateLimitIntrospectionBurst},
		{ratelimit.ClassRevocation, "REVOCATION", c.RateLimitRevocation, c.RateLimitRevocationBurst},
		{ratelimit.ClassV1, "V1", c.RateLimitV1, c.RateLimitV1Burst},
	} {
		if r := rt(cl.name, cl.r, cl.burst, false); r.PerSecond > 0 {
			l.Classes[cl.class] = r
		}
	}
	if c.RateLimitSyncEvery < 0 {
		errs = append(errs, fmt.Errorf("%sRATE_LIMIT_SYNC_EVERY: must not be negative", envPrefix))
	}
	l.SyncEvery = c.RateLimitSyncEvery
	return l, errs
}

// clientRates reads a client's registered rate from the service registry
// (in memory), so a per-client limit costs a map read per request.
type clientDirectory interface {
	Client(ctx context.Context, id client.ID) (client.View, bool, error)
}

func clientRates(dir clientDirectory) func(string) (ratelimit.Rate, bool) {
	return func(id string) (ratelimit.Rate, bool) {
		v, ok, err := dir.Client(context.Background(), client.ID(id))
		if err != nil || !ok || v.RateLimit == nil {
			return ratelimit.Rate{}, false
		}
		return ratelimit.Rate{PerSecond: rate.Limit(v.RateLimit.PerSecond), Burst: v.RateLimit.Burst}, true
	}
}

// newLimiter is the in-process limiter, or the Redis-shared one when rdb
// is set.
func newLimiter(c RateLimitConfig, dir clientDirectory, rdb *redis.Client) (*ratelimit.Limiter, error) {
	l, errs := c.limits()
	if len(errs) > 0 {
		return nil, errs[0]
	}
	l.ClientRate = clientRates(dir)
	if rdb == nil {
		return ratelimit.New(l), nil
	}
	return ratelimit.NewRedis(l, rdb, "authledger:rl:"), nil
}
