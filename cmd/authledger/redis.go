package main

import (
	"errors"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"authledger/internal/bus"
)

// openRedis returns the process's one Redis client (sessions, the bus
// carrying revocations and JWKS invalidations, replay guard, rate limits share its pool), or
// nil without AUTHLEDGER_REDIS_URL. Timeouts are short on purpose: session
// calls must answer 503 quickly when Redis is gone, and every other use has
// an in-process or ledger fallback.
func openRedis(cfg Config) (*redis.Client, error) {
	if cfg.RedisURL == "" {
		return nil, nil
	}
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, errors.New("AUTHLEDGER_REDIS_URL is not a valid redis URL")
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = time.Second, time.Second, time.Second
	opt.DialerRetries = 2
	return redis.NewClient(opt), nil
}

// openBus builds the Pub/Sub that hurries revocations and JWKS
// invalidations to every instance: Redis streams over rdb, or the
// in-process GoChannel when rdb is nil (no AUTHLEDGER_REDIS_URL). It is
// best effort on both profiles: the ledger feed delivers the same facts.
func openBus(rdb *redis.Client, log *slog.Logger) (*bus.Bus, error) {
	c := bus.Config{Logger: log}
	if rdb != nil { // a nil *redis.Client in the interface would not be nil
		c.Redis = rdb
	}
	return bus.New(c)
}
