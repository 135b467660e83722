package main

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/internal/redistest"
	"github.com/authledger/authledger/ratelimit"
	"github.com/authledger/authledger/replayguard"
	"github.com/authledger/authledger/sessionstore"
)

// reachedRedis counts the commands and pipelines that get past every hook
// installed before it, i.e. that are really sent to Redis; the handshake
// of a new connection (HELLO, CLIENT SETINFO, SELECT) is not counted.
type reachedRedis struct{ n atomic.Int64 }

func handshake(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "client", "select", "auth":
		return true
	}
	return false
}

func (h *reachedRedis) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *reachedRedis) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !handshake(cmd) {
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (h *reachedRedis) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) == 0 || !handshake(cmds[0]) {
			h.n.Add(1)
		}
		return next(ctx, cmds)
	}
}

// A frozen Redis (SIGSTOP: connections open, nothing answers) costs a few
// timeouts, then the breaker opens and session calls fail at once with
// session.ErrUnavailable without reaching Redis; the replay guard fails
// closed, the rate limiter answers from its in-process buckets, and the
// breaker closes again once Redis resumes.
func TestAFrozenRedisCostsOneTimeoutPerBreakerWindowNotOnePerCall(t *testing.T) {
	srv := redistest.Start(t)
	rdb, err := openRedis(Config{RedisURL: srv.URL(0)})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	reached := &reachedRedis{}
	rdb.AddHook(reached) // after openRedis's own hooks: counts what they let through

	ctx := context.Background()
	store := sessionstore.NewRedis(rdb, "t:sess:", time.Hour)
	guard := replayguard.NewRedis(rdb, "t:jti:", nil)
	limiter := ratelimit.NewRedis(ratelimit.DefaultLimits(), rdb, "t:rl:")
	now := time.Now().UTC()
	rec := session.Record{ID: "s1", Subject: "alice", ClientID: "app", AuthTime: now, CreatedAt: now, LastSeen: now, TokenHash: "h1"}
	if err := store.Create(ctx, rec, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Lookup(ctx, "h1"); err != nil {
		t.Fatal(err)
	}

	srv.Freeze()
	resumed := false
	defer func() {
		if !resumed {
			srv.Resume()
		}
	}()
	const n = 10
	start := reached.n.Load()
	for i := range n {
		_, err := store.Lookup(ctx, "h1")
		if !errors.Is(err, session.ErrUnavailable) {
			t.Fatalf("lookup %d on a frozen Redis: %v, want session.ErrUnavailable", i, err)
		}
	}
	// Each lookup that reaches Redis waits for its deadline; only the
	// first few may, until the breaker opens.
	if got := reached.n.Load() - start; got > 4 {
		t.Fatalf("%d of %d session lookups were sent to the frozen Redis, want at most 4 (the breaker should open)", got, n)
	}
	before := reached.n.Load()
	if ok, err := guard.Claim(ctx, "jti-1", now.Add(time.Minute)); ok || err == nil {
		t.Fatalf("replay guard on a frozen Redis: (%v, %v), want it to fail closed", ok, err)
	}
	if _, ok := limiter.SpendRequest(ctx, "app", now); !ok {
		t.Fatal("rate limiter refused while Redis is frozen; want its in-process fallback")
	}
	if got := reached.n.Load() - before; got != 0 {
		t.Fatalf("%d calls reached Redis while the breaker was open", got)
	}

	srv.Resume()
	resumed = true
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err = store.Lookup(ctx, "h1"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session lookups still fail 20 s after Redis resumed: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ok, err := guard.Claim(ctx, "jti-2", now.Add(time.Minute)); !ok || err != nil {
		t.Fatalf("replay guard after Redis resumed: (%v, %v)", ok, err)
	}
}
