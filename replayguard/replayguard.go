package replayguard

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Memory is the single-instance commands.AssertionGuard: it
// remembers assertion ids (jti) until they expire, so each private_key_jwt
// assertion is accepted once (RFC 7523 §3 item 7). Expired entries are swept
// as new ones arrive, bounded by MaxEntries so a flood of assertions cannot
// grow memory without limit (when full it refuses, failing closed).
type Memory struct {
	mu         sync.Mutex
	seen       map[string]time.Time
	now        func() time.Time
	lastSweep  time.Time
	MaxEntries int
}

// NewMemory returns an empty guard; now may be nil for time.Now.
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{seen: map[string]time.Time{}, now: now, MaxEntries: 1 << 20}
}

// ErrFull is returned when the memory guard holds MaxEntries unexpired ids.
var ErrFull = errors.New("replayguard: full")

// Claim records key until until and reports whether it was new; an error
// means the guard cannot tell and callers fail closed. It implements
// commands.AssertionGuard.
func (g *Memory) Claim(_ context.Context, key string, until time.Time) (bool, error) {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Sub(g.lastSweep) > time.Minute || len(g.seen) >= g.MaxEntries {
		for k, exp := range g.seen {
			if !now.Before(exp) {
				delete(g.seen, k)
			}
		}
		g.lastSweep = now
	}
	if exp, ok := g.seen[key]; ok && now.Before(exp) {
		return false, nil
	}
	if len(g.seen) >= g.MaxEntries {
		return false, ErrFull
	}
	g.seen[key] = until
	return true, nil
}

// Redis is the commands.AssertionGuard shared between instances
// (SET NX PX).
type Redis struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time
}

// NewRedis stores keys under prefix (e.g. "authledger:jti:").
func NewRedis(rdb redis.UniversalClient, prefix string, now func() time.Time) *Redis {
	if now == nil {
		now = time.Now
	}
	return &Redis{rdb: rdb, prefix: prefix, now: now}
}

// Claim records key until until and reports whether it was new; an error
// means the guard cannot tell and callers fail closed. It implements
// commands.AssertionGuard.
func (g *Redis) Claim(ctx context.Context, key string, until time.Time) (bool, error) {
	ttl := until.Sub(g.now())
	if ttl < time.Millisecond {
		ttl = time.Millisecond
	}
	ok, err := g.rdb.SetNX(ctx, g.prefix+key, 1, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("replayguard: redis: %w", err)
	}
	return ok, nil
}
