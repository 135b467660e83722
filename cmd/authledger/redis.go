package main

import (
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// openRedis returns the process's one Redis client (sessions, revocation
// fan-out, JWKS invalidation, replay guard, rate limits share its pool), or
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
