package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/authledger/authledger/ratelimit"
	"github.com/authledger/authledger/ratelimit/ratelimittest"
)

func admitted(r *ratelimit.Limiter, id, class string, n int, now time.Time) int {
	got := 0
	for range n {
		if _, ok := r.SpendClass(context.Background(), id, class, now); ok {
			got++
		}
	}
	return got
}

func TestRequestBudgetsPerClassAndPerClient(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(5000, 0)
	// Rates stay at 10/s or below: with the clock pinned, a Redis key
	// lives as long as its bucket takes to refill in real time (the PX of
	// the script), which must outlast the test's requests.
	limits := func() ratelimit.Limits {
		return ratelimit.Limits{PerClient: 5, PerClientBurst: 3,
			Classes: map[string]ratelimit.Rate{ratelimit.ClassIntrospection: {PerSecond: 10, Burst: 7}},
			ClientRate: func(id string) (ratelimit.Rate, bool) {
				if id == "svc-busy" {
					return ratelimit.Rate{PerSecond: 9, Burst: 11}, true
				}
				return ratelimit.Rate{}, false
			}}
	}
	for backend, newLimiter := range ratelimittest.Backends(t) {
		t.Run(backend+"/a class without its own budget shares the client's", func(t *testing.T) {
			t.Parallel()
			r := newLimiter(t, limits())
			if n := admitted(r, "svc-a", ratelimit.ClassToken, 2, t0) + admitted(r, "svc-a", ratelimit.ClassRevocation, 5, t0); n != 3 {
				t.Fatalf("%d admitted across token and revocation, want the one burst of 3", n)
			}
			if _, ok := r.SpendRequest(context.Background(), "svc-a", t0); ok {
				t.Fatal("SpendRequest did not share the budget")
			}
		})
		t.Run(backend+"/a class with its own budget spends only that", func(t *testing.T) {
			t.Parallel()
			r := newLimiter(t, limits())
			if n := admitted(r, "svc-a", ratelimit.ClassIntrospection, 20, t0); n != 7 {
				t.Fatalf("%d introspections admitted, want the class burst of 7", n)
			}
			if n := admitted(r, "svc-a", ratelimit.ClassToken, 20, t0); n != 3 {
				t.Fatalf("%d token requests admitted after introspections, want the client burst of 3", n)
			}
		})
		t.Run(backend+"/a client's registered rate replaces the defaults for it alone", func(t *testing.T) {
			t.Parallel()
			r := newLimiter(t, limits())
			if n := admitted(r, "svc-busy", ratelimit.ClassToken, 50, t0); n != 11 {
				t.Fatalf("%d admitted, want the registered burst of 11", n)
			}
			if n := admitted(r, "svc-busy", ratelimit.ClassIntrospection, 50, t0); n != 11 {
				t.Fatalf("%d introspections admitted, want the registered burst of 11 in the class's own bucket", n)
			}
			if n := admitted(r, "svc-other", ratelimit.ClassToken, 50, t0); n != 3 {
				t.Fatalf("another client got %d, want the default burst of 3", n)
			}
		})
	}
}

func TestLocalFirstRequestBudgets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Unix(6000, 0)
	// SyncEvery is long so that only the explicit Sync calls reconcile
	// (and, unless a Sync came first, the one background sync a limiter's
	// first request starts).
	limits := ratelimit.Limits{PerClient: 10, PerClientBurst: 4, SyncEvery: time.Hour}
	t.Run("each instance enforces the limit on its own without Redis on the request path", func(t *testing.T) {
		t.Parallel()
		rdb := ratelimittest.Redis(t)
		r := ratelimit.NewRedis(limits, rdb, ratelimittest.Prefix(t, rdb))
		if n := admitted(r, "svc-a", "", 20, t0); n != 4 {
			t.Fatalf("%d admitted, want the burst of 4", n)
		}
		if n := admitted(r, "svc-a", "", 20, t0.Add(time.Second)); n != 4 {
			t.Fatalf("%d admitted a second later, want the 10/s refill capped at the burst of 4", n)
		}
	})
	t.Run("after a sync an instance is charged with what the others admitted", func(t *testing.T) {
		t.Parallel()
		rdb := ratelimittest.Redis(t)
		prefix := ratelimittest.Prefix(t, rdb)
		a, b := ratelimit.NewRedis(limits, rdb, prefix), ratelimit.NewRedis(limits, rdb, prefix)
		// A sync now marks both as just synced, so their first requests
		// start no background sync (SyncEvery is an hour) and only the
		// explicit syncs below reconcile: otherwise whether b's first
		// request reached Redis before a's sync decided what a admits.
		for _, r := range []*ratelimit.Limiter{a, b} {
			if err := ratelimit.Sync(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if admitted(a, "svc-a", "", 1, t0) != 1 || admitted(b, "svc-a", "", 1, t0) != 1 {
			t.Fatal("first requests refused")
		}
		for _, r := range []*ratelimit.Limiter{a, b} {
			if err := ratelimit.Sync(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		// a spends the rest of its own burst; b does not know yet: the
		// bounded error, at most one burst per other instance.
		if n := admitted(a, "svc-a", "", 10, t0); n != 3 {
			t.Fatalf("a admitted %d more, want 3", n)
		}
		if err := ratelimit.Sync(ctx, a); err != nil {
			t.Fatal(err)
		}
		if err := ratelimit.Sync(ctx, b); err != nil {
			t.Fatal(err)
		}
		if n := admitted(b, "svc-a", "", 10, t0); n != 0 {
			t.Fatalf("b admitted %d after learning that a spent the shared burst, want 0", n)
		}
		// 5 admitted against the shared burst of 4: one over, within the
		// bound of (instances-1) × burst. At 10/s the budget is back 1 s later.
		if n := admitted(b, "svc-a", "", 10, t0.Add(2*time.Second)); n != 4 {
			t.Fatalf("b admitted %d two seconds later, want the burst of 4", n)
		}
	})
	t.Run("a Redis outage leaves the local budgets in force", func(t *testing.T) {
		t.Parallel()
		dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
		t.Cleanup(func() { _ = dead.Close() })
		r := ratelimit.NewRedis(ratelimit.Limits{PerClient: rate.Limit(10), PerClientBurst: 4, SyncEvery: time.Hour}, dead, "x:")
		if n := admitted(r, "svc-a", "", 20, t0); n != 4 {
			t.Fatalf("%d admitted during an outage, want the local burst of 4", n)
		}
		if err := ratelimit.Sync(ctx, r); err == nil {
			t.Fatal("a sync against a dead Redis reported success")
		}
	})
}
