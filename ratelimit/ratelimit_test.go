package ratelimit_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/authledger/authledger/ratelimit"
	"github.com/authledger/authledger/ratelimit/ratelimittest"
)

// failing charges n failed authentications, 100 at a time, and counts
// those the budgets admitted (answered invalid_client rather than 429).
func failing(r *ratelimit.Limiter, n int, clientID func(i int) string, addr string, now time.Time) int {
	var admitted atomic.Int64
	sem := make(chan struct{}, 100)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, ok := r.ChargeFailure(context.Background(), clientID(i), addr, now); ok {
				admitted.Add(1)
			}
		})
	}
	wg.Wait()
	return int(admitted.Load())
}

func one(id string) func(int) string { return func(int) string { return id } }

func TestRateLimiterContract(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Unix(1000, 0)
	cases := []struct {
		name string
		run  func(t *testing.T, r *ratelimit.Limiter)
	}{
		{"a burst of 300 failures for one client from one address under 100-way parallelism gets exactly the burst of 20", func(t *testing.T, r *ratelimit.Limiter) {
			if n := failing(r, 300, one("svc-a"), "10.0.0.1", t0); n != 20 {
				t.Fatalf("%d of 300 failing attempts admitted, want the burst of 20", n)
			}
		}},
		{"failures for a client from one address do not refuse it at another address", func(t *testing.T, r *ratelimit.Limiter) {
			failing(r, 300, one("svc-a"), "10.0.0.1", t0)
			if _, ok := r.ChargeFailure(ctx, "svc-a", "10.0.0.1", t0); ok {
				t.Fatal("the flooding address was not limited")
			}
			if _, ok := r.ChargeFailure(ctx, "svc-a", "10.0.0.2", t0); !ok {
				t.Fatal("the client's failures were slowed at another address because someone else failed for it")
			}
			if _, ok := r.SpendRequest(ctx, "svc-a", t0); !ok {
				t.Fatal("failures by others spent the client's request budget")
			}
		}},
		{"one address failing for many client ids is stopped by its address budget of 100", func(t *testing.T, r *ratelimit.Limiter) {
			if n := failing(r, 300, func(i int) string { return fmt.Sprint("ghost-", i) }, "10.0.0.1", t0); n != 100 {
				t.Fatalf("%d admitted, want the address burst of 100", n)
			}
			if _, ok := r.ChargeFailure(ctx, "svc-a", "10.0.0.1", t0); ok {
				t.Fatal("an address past its budget was admitted for another client")
			}
			if _, ok := r.ChargeFailure(ctx, "svc-a", "10.0.0.2", t0); !ok {
				t.Fatal("another address was limited")
			}
		}},
		{"a charge refused by the pair's budget spends nothing of the address's", func(t *testing.T, r *ratelimit.Limiter) {
			failing(r, 300, one("svc-a"), "10.0.0.1", t0) // 20 charged, 280 refused
			if n := failing(r, 300, func(i int) string { return fmt.Sprint("ghost-", i) }, "10.0.0.1", t0); n != 80 {
				t.Fatalf("%d admitted for other ids, want the address's 100 - 20", n)
			}
		}},
		{"failures never spend a client's request budget", func(t *testing.T, r *ratelimit.Limiter) {
			failing(r, 300, one("svc-a"), "10.0.0.1", t0)
			for range 200 {
				if _, ok := r.SpendRequest(ctx, "svc-a", t0); !ok {
					t.Fatal("the request budget was spent by failures")
				}
			}
		}},
		{"a refused attempt spends nothing and says when to retry, and the budget refills at 1/s", func(t *testing.T, r *ratelimit.Limiter) {
			failing(r, 20, one("svc-a"), "10.0.0.1", t0)
			w, ok := r.ChargeFailure(ctx, "svc-a", "10.0.0.1", t0)
			if ok || w <= 0 || w > 2*time.Second {
				t.Fatalf("limited answer: wait %v ok %v", w, ok)
			}
			later := t0.Add(1500 * time.Millisecond)
			if _, ok := r.ChargeFailure(ctx, "svc-a", "10.0.0.1", later); !ok {
				t.Fatal("the failure budget did not refill")
			}
			// The address budget spent 21 of 100 and refilled 7.5 at 5/s.
			if n := failing(r, 200, func(i int) string { return fmt.Sprint("ghost-", i) }, "10.0.0.1", later); n != 86 {
				t.Fatalf("%d admitted, want 86 (100 - 21 + 7.5 refilled at 5/s)", n)
			}
		}},
		{"IPv6 addresses share the budget of their /64", func(t *testing.T, r *ratelimit.Limiter) {
			var admitted int
			for i := range 300 {
				addr := fmt.Sprintf("2001:db8:1:2::%x", i+1)
				if _, ok := r.ChargeFailure(ctx, "svc-a", addr, t0); ok {
					admitted++
				}
			}
			if admitted != 20 {
				t.Fatalf("%d admitted across one /64, want the burst of 20", admitted)
			}
			if _, ok := r.ChargeFailure(ctx, "svc-a", "2001:db8:1:3::1", t0); !ok {
				t.Fatal("the next /64 was limited")
			}
		}},
	}
	for backend, newLimiter := range ratelimittest.Backends(t) {
		for _, tc := range cases {
			t.Run(backend+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				tc.run(t, newLimiter(t, ratelimit.DefaultLimits()))
			})
		}
		t.Run(backend+"/authenticated requests per client are capped at the burst", func(t *testing.T) {
			t.Parallel()
			r := newLimiter(t, ratelimit.Limits{PerClient: 10, PerClientBurst: 5})
			n := 0
			for range 50 {
				if _, ok := r.SpendRequest(ctx, "svc-a", t0); ok {
					n++
				}
			}
			if n != 5 {
				t.Fatalf("%d admitted, want the burst of 5", n)
			}
		})
	}
}

func TestRedisRateLimiterIsSharedAndFallsBack(t *testing.T) {
	t.Parallel()
	rdb := ratelimittest.Redis(t)
	now := time.Unix(2000, 0)
	t.Run("two instances share one budget", func(t *testing.T) {
		t.Parallel()
		prefix := ratelimittest.Prefix(t, rdb)
		a := ratelimit.NewRedis(ratelimit.Limits{PerClient: 10, PerClientBurst: 4}, rdb, prefix)
		b := ratelimit.NewRedis(ratelimit.Limits{PerClient: 10, PerClientBurst: 4}, rdb, prefix)
		n := 0
		for i := range 20 {
			r := a
			if i%2 == 1 {
				r = b
			}
			if _, ok := r.SpendRequest(context.Background(), "svc-a", now); ok {
				n++
			}
		}
		if n != 4 {
			t.Fatalf("%d admitted across two instances, want the shared burst of 4", n)
		}
	})
	t.Run("a failure writes one key per bucket, each expiring once refilled", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		prefix := ratelimittest.Prefix(t, rdb)
		r := ratelimit.NewRedis(ratelimit.DefaultLimits(), rdb, prefix)
		if _, ok := r.ChargeFailure(ctx, "svc-a", "10.0.0.1", time.Now()); !ok {
			t.Fatal("refused")
		}
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		if len(keys) != 2 {
			t.Fatalf("keys after a failure: %v", keys)
		}
		for _, k := range keys {
			// One failure refills in 1 s (pair) or 200 ms (address).
			if ttl, err := rdb.PTTL(ctx, k).Result(); err != nil || ttl <= 0 || ttl > 2*time.Second {
				t.Fatalf("key %s expires in %v (%v), want within the refill time", k, ttl, err)
			}
		}
	})
	t.Run("a Redis outage falls back to in-process limits", func(t *testing.T) {
		t.Parallel()
		dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
		t.Cleanup(func() { _ = dead.Close() })
		r := ratelimit.NewRedis(ratelimit.DefaultLimits(), dead, "x:")
		if n := failing(r, 50, one("svc-a"), "10.0.0.1", now); n != 20 {
			t.Fatalf("%d admitted during an outage, want the local burst of 20", n)
		}
	})
}

func TestAFullLimiterTableHandsOutNoUnlimitedLimiters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Unix(3000, 0)
	limits := ratelimit.Limits{FailuresPerClientAddress: rate.Limit(0.001), FailuresPerClientAddressBurst: 3,
		FailuresPerAddress: rate.Limit(0.001), FailuresPerAddressBurst: 1000, MaxKeys: 8}
	cases := []struct {
		name string
		run  func(t *testing.T, r *ratelimit.Limiter)
	}{
		{"every new key past a full table still gets only its burst", func(t *testing.T, r *ratelimit.Limiter) {
			for k := range 40 {
				n := failing(r, 10, one(fmt.Sprint("svc-", k)), "10.0.0.1", now)
				if n != 3 {
					t.Fatalf("key %d: %d admitted with the table full, want the burst of 3", k, n)
				}
			}
			if got := ratelimit.FailClientAddrKeys(r); got > 8 {
				t.Fatalf("table holds %d keys, bound 8", got)
			}
		}},
		{"a key being refused stays in the table while new keys arrive", func(t *testing.T, r *ratelimit.Limiter) {
			failing(r, 10, one("victim"), "10.0.0.1", now)
			for k := range 30 {
				if _, ok := r.ChargeFailure(ctx, "victim", "10.0.0.1", now); ok {
					t.Fatalf("the exhausted key was forgiven after %d new keys", k)
				}
				failing(r, 1, one(fmt.Sprint("new-", k)), "10.0.0.1", now)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, ratelimit.New(limits))
		})
	}
}

func TestLimiterKeysAreBounded(t *testing.T) {
	t.Parallel()
	long := string(make([]byte, 10_000))
	cases := []struct{ name, in, want string }{
		{"an IPv4 address is itself", "192.0.2.7", "192.0.2.7"},
		{"an IPv4-mapped IPv6 address is its IPv4 address", "::ffff:192.0.2.7", "192.0.2.7"},
		{"an IPv6 address is its /64", "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"something else is kept when short", "pipe", "pipe"},
		{"a long value is hashed", long, ratelimit.IDKey(long)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ratelimit.AddrKey(tc.in); got != tc.want || len(got) > 80 {
				t.Fatalf("addrKey = %q, want %q", got, tc.want)
			}
		})
	}
	if net.ParseIP(ratelimit.IDKey(long)) != nil || len(ratelimit.IDKey(long)) > 80 {
		t.Fatal("a long id was not hashed")
	}
}
