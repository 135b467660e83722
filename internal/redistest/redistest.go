// Package redistest connects tests to the real Redis they run against
// (127.0.0.1:6379, started by scripts/services.sh), the way internal/pgtest
// does for PostgreSQL: one client per test, keys under a prefix of the
// test's own that are deleted when it ends.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Addr is the test Redis.
const Addr = "127.0.0.1:6379"

// Client is a client of the test Redis, closed when t ends; the test fails
// when Redis does not answer.
func Client(t testing.TB) *redis.Client {
	t.Helper()
	// A pool as wide as the tests' concurrency (100 requests at once in the
	// rate-limit floods) and a patient pool wait: on a busy CI machine the
	// default pool of 10 per core made a request wait past its 4 s pool
	// timeout, the limiter fell back to its local buckets for that one,
	// and an exact count came out 2 over (102 refusals for 100).
	rdb := redis.NewClient(&redis.Options{Addr: Addr, PoolSize: 128, PoolTimeout: 30 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second})
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis at %s (run scripts/services.sh): %v", Addr, err)
	}
	return rdb
}

// Prefix is a key prefix under "authledger:test:<what>:" for this test
// only; every key under it is deleted when t ends.
func Prefix(t testing.TB, rdb *redis.Client, what string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "authledger:test:" + what + ":" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	return prefix
}
