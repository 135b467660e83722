package jwks_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/internal/bus"
	"github.com/authledger/authledger/readmodels/jwks"
	"github.com/authledger/authledger/secrets/local"
)

// TestBusInvalidationReloadsAnotherInstance: instance B does not follow the
// feed at all here, so only the bus announcement can bring it the key
// instance A's rotation created, on Redis (two clients, one stream) and on
// the in-process bus.
func TestBusInvalidationReloadsAnotherInstance(t *testing.T) {
	for _, distributed := range []bool{true, false} {
		t.Run(fmt.Sprintf("redis=%v", distributed), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			busA, busB := newBuses(t, distributed)
			store := memstore.New(nil)
			sp, _ := local.Open(t.TempDir(), local.Options{MasterKey: make([]byte, 32)})
			keys, err := commands.NewKeys(commands.KeysConfig{Store: store, Secrets: sp,
				Notify: func(ctx context.Context, v uint64) error { return jwks.PublishInvalidation(ctx, busA, v) }})
			if err != nil {
				t.Fatal(err)
			}
			b := jwks.New()
			done := make(chan error, 1)
			go func() { done <- jwks.ListenInvalidations(ctx, busB, b, store) }()
			// Wait until the subscription is live before A publishes.
			deadline := time.Now().Add(10 * time.Second)
			for busB.Subscriptions(bus.TopicJWKSInvalidations) == 0 {
				if time.Now().After(deadline) {
					t.Fatal("never subscribed")
				}
				time.Sleep(5 * time.Millisecond)
			}
			res, err := keys.Tick(ctx, commands.Metadata{})
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, b, func() bool { a, ok := b.ActiveKey(); return ok && a.KID == res.Published })
			cancel()
			<-done
		})
	}
}

func newBuses(t *testing.T, distributed bool) (a, b *bus.Bus) {
	t.Helper()
	open := func(c bus.Config) *bus.Bus {
		x, err := bus.New(c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = x.Close() })
		return x
	}
	if !distributed {
		one := open(bus.Config{})
		return one, one
	}
	client := func() *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 11})
		t.Cleanup(func() { _ = c.Close() })
		if err := c.Ping(context.Background()).Err(); err != nil {
			t.Fatalf("redis: %v", err)
		}
		return c
	}
	prefix := fmt.Sprintf("authledger:test:jwks:%d:", time.Now().UnixNano())
	ca := client()
	t.Cleanup(func() { _ = ca.Del(context.Background(), prefix+bus.TopicJWKSInvalidations).Err() })
	return open(bus.Config{Redis: ca, Prefix: prefix, BlockTime: 100 * time.Millisecond}),
		open(bus.Config{Redis: client(), Prefix: prefix, BlockTime: 100 * time.Millisecond})
}
