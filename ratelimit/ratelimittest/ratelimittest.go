// Package ratelimittest builds rate limiters of every backend for tests:
// in process, and over the real Redis at 127.0.0.1:6379 under a key prefix
// of the test's own that is deleted when it ends.
package ratelimittest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/redis/go-redis/v9"

	"authledger/ratelimit"
)

// Redis is a client of the test Redis, closed when t ends; the test fails
// when Redis does not answer.
func Redis(t testing.TB) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis at 127.0.0.1:6379 (run scripts/services.sh): %v", err)
	}
	return rdb
}

// Prefix is a key prefix of this test only, deleted at the end.
func Prefix(t testing.TB, rdb *redis.Client) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "authledger:test:rl:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	return prefix
}

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
