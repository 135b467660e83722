// Package sessionstoretest holds session stores for other packages' tests,
// so they need not know the Redis client to simulate an outage.
package sessionstoretest

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authledger/authledger/sessionstore"
)

// Down is the Redis session store of an instance whose Redis is gone: a
// client of a port nothing listens on, failing fast.
func Down(t testing.TB) *sessionstore.Redis {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	return sessionstore.NewRedis(c, "authledger:test:down:", 12*time.Hour)
}
