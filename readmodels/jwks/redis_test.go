package jwks_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"authledger/commands"
	"authledger/eventstore/memstore"
	"authledger/readmodels/jwks"
	"authledger/secrets/local"
)

// TestRedisInvalidationReloadsAnotherInstance: instance B does not follow
// the feed at all here, so only the Redis announcement can bring it the key
// instance A's rotation created.
func TestRedisInvalidationReloadsAnotherInstance(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 11})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis: %v", err)
	}
	store := memstore.New(nil)
	sp, _ := local.Open(t.TempDir(), local.Options{MasterKey: make([]byte, 32)})
	keys, err := commands.NewKeys(commands.KeysConfig{Store: store, Secrets: sp,
		Notify: func(ctx context.Context, v uint64) error { return jwks.PublishInvalidation(ctx, rdb, v) }})
	if err != nil {
		t.Fatal(err)
	}
	b := jwks.New()
	subscribed := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		// Wait until the subscription is live before A publishes.
		for rdb.PubSubNumSub(ctx, jwks.InvalidationChannel).Val()[jwks.InvalidationChannel] == 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
		close(subscribed)
	}()
	go func() { done <- jwks.ListenInvalidations(ctx, rdb, b, store) }()
	select {
	case <-subscribed:
	case <-time.After(10 * time.Second):
		t.Fatal("never subscribed")
	}
	res, err := keys.Tick(ctx, commands.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, func() bool { a, ok := b.ActiveKey(); return ok && a.KID == res.Published })
	cancel()
	<-done
}
