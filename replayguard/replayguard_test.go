package replayguard_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	cmds "github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/internal/redistest"
	"github.com/authledger/authledger/replayguard"
)

// Both guards are the token endpoint's assertion guard.
var (
	_ cmds.AssertionGuard = (*replayguard.Memory)(nil)
	_ cmds.AssertionGuard = (*replayguard.Redis)(nil)
)

// guard is what the contract exercises: commands.AssertionGuard's method.
type guard interface {
	Claim(ctx context.Context, key string, until time.Time) (bool, error)
}

func testRedis(t *testing.T) *redis.Client { return redistest.Client(t) }

// adapters builds a fresh guard of each adapter; each Redis guard has a key
// prefix of its own, deleted when its test ends.
func adapters(t *testing.T) map[string]func(t *testing.T, now func() time.Time) guard {
	rdb := testRedis(t)
	return map[string]func(t *testing.T, now func() time.Time) guard{
		"memory": func(_ *testing.T, now func() time.Time) guard { return replayguard.NewMemory(now) },
		"redis": func(t *testing.T, now func() time.Time) guard {
			var b [6]byte
			_, _ = rand.Read(b[:])
			prefix := "authledger:test:jti:" + hex.EncodeToString(b[:]) + ":"
			t.Cleanup(func() {
				keys, _ := rdb.Keys(context.Background(), prefix+"*").Result()
				if len(keys) > 0 {
					rdb.Del(context.Background(), keys...)
				}
			})
			return replayguard.NewRedis(rdb, prefix, now)
		},
	}
}

// TestReplayGuardContract is the one contract every assertion guard passes.
func TestReplayGuardContract(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name string
		run  func(t *testing.T, g guard)
	}{
		{"an id is accepted once within its lifetime", func(t *testing.T, g guard) {
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
		}},
		{"32 concurrent claims of one id admit exactly one", func(t *testing.T, g guard) {
			var wins atomic.Int32
			var wg sync.WaitGroup
			for range 32 {
				wg.Go(func() {
					if ok, err := g.Claim(ctx, "race", time.Now().Add(time.Minute)); err == nil && ok {
						wins.Add(1)
					}
				})
			}
			wg.Wait()
			if wins.Load() != 1 {
				t.Fatalf("%d winners, want 1", wins.Load())
			}
		}},
		{"an id is accepted again once its lifetime has passed", func(t *testing.T, g guard) {
			if ok, err := g.Claim(ctx, "short", time.Now().Add(20*time.Millisecond)); err != nil || !ok {
				t.Fatalf("first claim = %v, %v", ok, err)
			}
			time.Sleep(80 * time.Millisecond)
			if ok, err := g.Claim(ctx, "short", time.Now().Add(time.Minute)); err != nil || !ok {
				t.Fatalf("claim after expiry = %v, %v; want accepted", ok, err)
			}
		}},
		{"an id whose lifetime already passed is still claimed once", func(t *testing.T, g guard) {
			past := time.Now().Add(-time.Second)
			if ok, err := g.Claim(ctx, "late", past); err != nil || !ok {
				t.Fatalf("first claim = %v, %v", ok, err)
			}
		}},
	}
	for name, newGuard := range adapters(t) {
		for _, tc := range cases {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				tc.run(t, newGuard(t, time.Now))
			})
		}
	}
}

func TestMemoryReplayGuard(t *testing.T) {
	t.Parallel()
	t.Run("an id is forgotten after it expires", func(t *testing.T) {
		now := time.Unix(1000, 0)
		g := replayguard.NewMemory(func() time.Time { return now })
		if ok, _ := g.Claim(context.Background(), "a", now.Add(time.Second)); !ok {
			t.Fatal("first claim refused")
		}
		now = now.Add(2 * time.Second)
		if ok, _ := g.Claim(context.Background(), "a", now.Add(time.Second)); !ok {
			t.Fatal("claim after expiry refused")
		}
	})
	t.Run("a full guard fails closed", func(t *testing.T) {
		g := replayguard.NewMemory(nil)
		g.MaxEntries = 2
		until := time.Now().Add(time.Minute)
		_, _ = g.Claim(context.Background(), "a", until)
		_, _ = g.Claim(context.Background(), "b", until)
		if ok, err := g.Claim(context.Background(), "c", until); ok || !errors.Is(err, replayguard.ErrFull) {
			t.Fatalf("claim on a full guard = %v, %v; want ErrFull", ok, err)
		}
	})
}

func TestRedisReplayGuardFailsClosedWhenRedisIsDown(t *testing.T) {
	t.Parallel()
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
	t.Cleanup(func() { _ = dead.Close() })
	g := replayguard.NewRedis(dead, "x:", nil)
	if ok, err := g.Claim(context.Background(), "a", time.Now().Add(time.Minute)); ok || err == nil {
		t.Fatalf("claim with Redis down = %v, %v; want an error", ok, err)
	}
}
