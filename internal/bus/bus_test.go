package bus_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"github.com/authledger/authledger/internal/bus"
	"github.com/authledger/authledger/internal/redistest"
)

// redisClient is a client on the real Redis the tests run against.
func redisClient(t *testing.T) *redis.Client { return redistest.Client(t) }

// uniquePrefix keeps parallel tests (and runs) on streams of their own and
// deletes them afterwards.
func uniquePrefix(t *testing.T, c *redis.Client) string {
	p := fmt.Sprintf("authledger:test:bus:%s:%d:", t.Name(), time.Now().UnixNano())
	t.Cleanup(func() {
		_ = c.Del(context.Background(), p+bus.TopicRevocations, p+bus.TopicJWKSInvalidations).Err()
	})
	return p
}

func newBus(t *testing.T, c bus.Config) *bus.Bus {
	t.Helper()
	b, err := bus.New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b
}

// instances returns the buses of two instances on one transport.
func instances(t *testing.T, distributed bool) (a, b *bus.Bus) {
	if !distributed {
		one := newBus(t, bus.Config{})
		return one, one
	}
	c := redisClient(t)
	prefix := uniquePrefix(t, c)
	return newBus(t, bus.Config{Redis: c, Prefix: prefix, BlockTime: 100 * time.Millisecond}),
		newBus(t, bus.Config{Redis: redisClient(t), Prefix: prefix, BlockTime: 100 * time.Millisecond})
}

func receive(t *testing.T, ch <-chan *message.Message) string {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("subscription closed")
		}
		m.Ack()
		return string(m.Payload)
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5s")
	}
	return ""
}

func publish(t *testing.T, b *bus.Bus, topic, payload string) {
	t.Helper()
	if err := b.Publish(topic, message.NewMessage(watermill.NewUUID(), []byte(payload))); err != nil {
		t.Fatal(err)
	}
}

func TestEverySubscriberOfEveryInstanceReceivesEveryMessage(t *testing.T) {
	for _, distributed := range []bool{false, true} {
		t.Run(fmt.Sprintf("redis=%v", distributed), func(t *testing.T) {
			t.Parallel()
			a, b := instances(t, distributed)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// Two instances and a second subscriber on one of them: fan-out,
			// not competing consumers.
			var subs []<-chan *message.Message
			for _, x := range []*bus.Bus{a, b, b} {
				ch, err := x.Subscribe(ctx, bus.TopicRevocations)
				if err != nil {
					t.Fatal(err)
				}
				subs = append(subs, ch)
			}
			for i := range 3 {
				publish(t, a, bus.TopicRevocations, fmt.Sprint("m", i))
			}
			for n, ch := range subs {
				got := map[string]bool{}
				for range 3 {
					got[receive(t, ch)] = true
				}
				if len(got) != 3 {
					t.Fatalf("subscriber %d got %v, want m0, m1 and m2", n, got)
				}
			}
		})
	}
}

func TestARedisSubscriptionStartsAtTheStreamsEndAndMissesNothingAfter(t *testing.T) {
	t.Parallel()
	a, b := instances(t, true)
	publish(t, a, bus.TopicRevocations, "before")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := b.Subscribe(ctx, bus.TopicRevocations)
	if err != nil {
		t.Fatal(err)
	}
	// Published right after Subscribe returns, before redisstream's first
	// read can have started: a subscription from "$" could miss it.
	publish(t, a, bus.TopicRevocations, "after")
	if got := receive(t, ch); got != "after" {
		t.Fatalf("first message %q, want %q (the older one must not be replayed)", got, "after")
	}
	// And on a stream that did not exist at Subscribe.
	ch2, err := b.Subscribe(ctx, bus.TopicJWKSInvalidations)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, a, bus.TopicJWKSInvalidations, "7")
	if got := receive(t, ch2); got != "7" {
		t.Fatalf("got %q, want 7", got)
	}
}

func TestRedisStreamsAreTrimmed(t *testing.T) {
	t.Parallel()
	c := redisClient(t)
	prefix := uniquePrefix(t, c)
	b := newBus(t, bus.Config{Redis: c, Prefix: prefix, MaxLen: 10})
	const n = 500
	for i := range n {
		publish(t, b, bus.TopicRevocations, fmt.Sprint(i))
	}
	l, err := c.XLen(context.Background(), b.Stream(bus.TopicRevocations)).Result()
	if err != nil {
		t.Fatal(err)
	}
	// MAXLEN ~ trims whole stream nodes (100 entries by default), so the
	// stream keeps a little more than MaxLen, never all n.
	if l > 10+100 {
		t.Fatalf("stream holds %d of %d messages with MaxLen 10", l, n)
	}
}

func TestSubscriptionsCountsLiveOnes(t *testing.T) {
	t.Parallel()
	b := newBus(t, bus.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := b.Subscribe(ctx, bus.TopicRevocations); err != nil {
		t.Fatal(err)
	}
	if n := b.Subscriptions(bus.TopicRevocations); n != 1 {
		t.Fatalf("%d subscriptions, want 1", n)
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for b.Subscriptions(bus.TopicRevocations) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("an ended subscription is still counted")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTheBusLeavesTheSharedRedisClientOpen(t *testing.T) {
	t.Parallel()
	c := redisClient(t)
	b, err := bus.New(bus.Config{Redis: c, Prefix: uniquePrefix(t, c)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Subscribe(t.Context(), bus.TopicRevocations); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("the client is unusable after the bus closed: %v", err)
	}
}

func TestConfigValidateNamesEveryProblem(t *testing.T) {
	err := bus.Config{MaxLen: -1, BlockTime: -1}.Validate()
	if err == nil {
		t.Fatal("a negative MaxLen and BlockTime were accepted")
	}
	for _, want := range []string{"MaxLen", "BlockTime"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v does not name %s", err, want)
		}
	}
}
