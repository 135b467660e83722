package services_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	cmds "authledger/commands"
	"authledger/readmodels/services"
)

// Both guards are the token endpoint's assertion guard.
var (
	_ cmds.AssertionGuard = (*services.MemoryReplayGuard)(nil)
	_ cmds.AssertionGuard = (*services.RedisReplayGuard)(nil)
)

// runReplayGuardContract is the one contract every assertion guard passes.
func runReplayGuardContract(t *testing.T, newGuard func(t *testing.T, now func() time.Time) cmds.AssertionGuard) {
	ctx := context.Background()
	t.Run("an id is accepted once within its lifetime", func(t *testing.T) {
		g := newGuard(t, time.Now)
		until := time.Now().Add(time.Minute)
		if ok, err := g.Claim(ctx, "a", until); err != nil || !ok {
			t.Fatalf("first claim = %v, %v", ok, err)
		}
		if ok, err := g.Claim(ctx, "a", until); err != nil || ok {
			t.Fatalf("second claim = %v, %v; want refused", ok, err)
		}
		if ok, err := g.Claim(ctx, "b", until); err != nil || !ok {
			t.Fatalf("another id = %v, %v", ok, err)
		}
	})
	t.Run("32 concurrent claims of one id admit exactly one", func(t *testing.T) {
		g := newGuard(t, time.Now)
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if ok, err := g.Claim(ctx, "race", time.Now().Add(time.Minute)); err == nil && ok {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d winners, want 1", wins.Load())
		}
	})
}

func TestMemoryReplayGuard(t *testing.T) {
	t.Parallel()
	runReplayGuardContract(t, func(t *testing.T, now func() time.Time) cmds.AssertionGuard {
		return services.NewMemoryReplayGuard(now)
	})
	t.Run("an id is forgotten after it expires", func(t *testing.T) {
		now := time.Unix(1000, 0)
		g := services.NewMemoryReplayGuard(func() time.Time { return now })
		if ok, _ := g.Claim(context.Background(), "a", now.Add(time.Second)); !ok {
			t.Fatal("first claim refused")
		}
		now = now.Add(2 * time.Second)
		if ok, _ := g.Claim(context.Background(), "a", now.Add(time.Second)); !ok {
			t.Fatal("claim after expiry refused")
		}
	})
	t.Run("a full guard fails closed", func(t *testing.T) {
		g := services.NewMemoryReplayGuard(nil)
		g.MaxEntries = 2
		until := time.Now().Add(time.Minute)
		_, _ = g.Claim(context.Background(), "a", until)
		_, _ = g.Claim(context.Background(), "b", until)
		if ok, err := g.Claim(context.Background(), "c", until); ok || err == nil {
			t.Fatalf("claim on a full guard = %v, %v", ok, err)
		}
	})
}

func TestRedisReplayGuard(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis at 127.0.0.1:6379 (run scripts/services.sh): %v", err)
	}
	runReplayGuardContract(t, func(t *testing.T, now func() time.Time) cmds.AssertionGuard {
		var b [6]byte
		_, _ = rand.Read(b[:])
		prefix := "authledger:test:jti:" + hex.EncodeToString(b[:]) + ":"
		t.Cleanup(func() {
			keys, _ := rdb.Keys(context.Background(), prefix+"*").Result()
			if len(keys) > 0 {
				rdb.Del(context.Background(), keys...)
			}
		})
		return services.NewRedisReplayGuard(rdb, prefix, now)
	})
}
