package main

import (
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"

	"github.com/authledger/authledger/internal/bus"
	"github.com/authledger/authledger/internal/redisguard"
	"github.com/authledger/authledger/internal/telemetry"
)

// openRedis returns the process's one Redis client (sessions, the bus
// carrying revocations and JWKS invalidations, replay guard, rate limits share its pool), or
// nil without AUTHLEDGER_REDIS_URL. Every command gets a short deadline
// (redisguard.DefaultTimeout) and goes through one circuit breaker, so a
// hung Redis costs a few timeouts per breaker window, not one per request:
// while it is open, session calls answer 503 at once, the replay guard
// fails closed, the rate limiter uses its in-process buckets, and token,
// refresh and verification traffic does not wait on Redis.
func openRedis(cfg Config) (*redis.Client, error) {
	rdb, _, err := openRedisGuarded(cfg)
	return rdb, err
}

// openRedisGuarded is openRedis that also returns the client's guard, whose
// breaker state serve exports as a metric.
func openRedisGuarded(cfg Config) (*redis.Client, *redisguard.Guard, error) {
	if cfg.RedisURL == "" {
		return nil, nil, nil
	}
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, nil, errors.New("AUTHLEDGER_REDIS_URL is not a valid redis URL")
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = time.Second, time.Second, time.Second
	opt.DialerRetries = 2
	// Deadlines from the guard's context bound the socket reads and writes.
	opt.ContextTimeoutEnabled = true
	rdb := redis.NewClient(opt)
	g := redisguard.Install(rdb, redisguard.Config{})
	if telemetry.Enabled(os.Getenv) {
		// Command names only: a statement would carry keys and values
		// (session ids, replay-guard jtis).
		if err := redisotel.InstrumentTracing(rdb, redisotel.WithDBStatement(false)); err != nil {
			return nil, nil, errors.Join(err, rdb.Close())
		}
	}
	return rdb, g, nil
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
