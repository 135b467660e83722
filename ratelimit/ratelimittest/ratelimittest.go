// Package ratelimittest builds rate limiters of every backend for tests:
// in process, and over the real Redis at 127.0.0.1:6379 under a key prefix
// of the test's own that is deleted when it ends.
package ratelimittest

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/authledger/authledger/internal/redistest"
	"github.com/authledger/authledger/ratelimit"
)

// Redis is a client of the test Redis, closed when t ends.
func Redis(t testing.TB) *redis.Client { return redistest.Client(t) }

// Prefix is a key prefix of this test only, deleted at the end.
func Prefix(t testing.TB, rdb *redis.Client) string { return redistest.Prefix(t, rdb, "rl") }

// Backends builds a Limiter of each backend ("memory", "redis"); each
// Redis limiter has a fresh prefix, so tests never share buckets.
func Backends(t testing.TB) map[string]func(t testing.TB, l ratelimit.Limits) *ratelimit.Limiter {
	rdb := Redis(t)
	return map[string]func(t testing.TB, l ratelimit.Limits) *ratelimit.Limiter{
		"memory": func(_ testing.TB, l ratelimit.Limits) *ratelimit.Limiter { return ratelimit.New(l) },
		"redis": func(t testing.TB, l ratelimit.Limits) *ratelimit.Limiter {
			return ratelimit.NewRedis(l, rdb, Prefix(t, rdb))
		},
	}
}
