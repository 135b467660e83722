package revocations_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"github.com/authledger/authledger/internal/bus"
	"github.com/authledger/authledger/internal/redistest"
	"github.com/authledger/authledger/readmodels/revocations"
	"github.com/authledger/authledger/readmodels/revocations/revocationstest"
)

func TestTheInProcessSetIsARevocationPublisher(t *testing.T) {
	revocationstest.Run(t, func(t *testing.T) revocationstest.Instances {
		s := revocations.New(nil)
		return revocationstest.Instances{Publisher: s, Local: s, Remote: s}
	})
}

func TestTheFanoutOnTheInProcessBusIsARevocationPublisher(t *testing.T) {
	revocationstest.Run(t, func(t *testing.T) revocationstest.Instances {
		b := newBus(t, bus.Config{})
		return fanoutInstances(t, b, b)
	})
}

func TestTheFanoutOnRedisIsARevocationPublisher(t *testing.T) {
	revocationstest.Run(t, func(t *testing.T) revocationstest.Instances {
		prefix := fmt.Sprintf("authledger:test:revocations:%s:%d:", t.Name(), time.Now().UnixNano())
		a := newBus(t, bus.Config{Redis: redisClient(t), Prefix: prefix, BlockTime: 100 * time.Millisecond})
		b := newBus(t, bus.Config{Redis: redisClient(t), Prefix: prefix, BlockTime: 100 * time.Millisecond})
		t.Cleanup(func() { _ = redisClient(t).Del(context.Background(), a.Stream(bus.TopicRevocations)).Err() })
		return fanoutInstances(t, a, b)
	})
}

// fanoutInstances runs a fan-out on each bus, each with its own set, and
// returns once the receiving one's subscription is live.
func fanoutInstances(t *testing.T, pubBus, subBus *bus.Bus) revocationstest.Instances {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	local, remote := revocations.New(nil), revocations.New(nil)
	pub := revocations.NewFanout(pubBus, pubBus, local)
	recv := revocations.NewFanout(subBus, subBus, remote)
	before := subBus.Subscriptions(bus.TopicRevocations)
	wg.Go(func() { _ = pub.Run(ctx) })
	wg.Go(func() { _ = recv.Run(ctx) })
	want := before + 1
	if pubBus == subBus {
		want++
	}
	deadline := time.Now().Add(5 * time.Second)
	for subBus.Subscriptions(bus.TopicRevocations) < want {
		if time.Now().After(deadline) {
			t.Fatal("the fan-out never subscribed")
		}
		time.Sleep(time.Millisecond)
	}
	return revocationstest.Instances{
		Publisher: pub, Local: local, Remote: remote,
		Inject: func(ctx context.Context, payload []byte) error {
			m := message.NewMessage(watermill.NewUUID(), payload)
			m.SetContext(ctx)
			return pubBus.Publish(bus.TopicRevocations, m)
		},
		Received: recv.Received,
	}
}

func newBus(t *testing.T, c bus.Config) *bus.Bus {
	t.Helper()
	b, err := bus.New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func redisClient(t *testing.T) *redis.Client { return redistest.Client(t) }

// TestRedisFanoutReachesAnotherSet: two instances, each with its own Redis
// client, share nothing but the stream.
func TestRedisFanoutReachesAnotherSet(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prefix := "authledger:test:revocations:" + time.Now().Format("150405.000000000") + ":"
	ba := newBus(t, bus.Config{Redis: redisClient(t), Prefix: prefix})
	bb := newBus(t, bus.Config{Redis: redisClient(t), Prefix: prefix})
	a, b := revocations.New(nil), revocations.New(nil)
	fa := revocations.NewFanout(ba, ba, a)
	fb := revocations.NewFanout(bb, bb, b)
	go func() { _ = fb.Run(ctx) }()
	// Wait until b's subscription is live before publishing.
	deadline := time.Now().Add(5 * time.Second)
	for bb.Subscriptions(bus.TopicRevocations) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("subscriber never registered")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := fa.PublishRevocation(ctx, "sid", "s1", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if !a.IsRevoked("", "s1", "") {
		t.Fatal("the publishing instance does not deny its own revocation")
	}
	for !b.IsRevoked("", "s1", "") {
		if time.Now().After(deadline) {
			t.Fatal("the revocation never reached the other instance")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRunReturnsWhenItsSubscriptionEnds(t *testing.T) {
	t.Parallel()
	b, err := bus.New(bus.Config{})
	if err != nil {
		t.Fatal(err)
	}
	f := revocations.NewFanout(b, b, revocations.New(nil))
	done := make(chan error, 1)
	go func() { done <- f.Run(context.Background()) }()
	for b.Subscriptions(bus.TopicRevocations) == 0 {
		time.Sleep(time.Millisecond)
	}
	_ = b.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Run returned nil for a lost subscription: the supervisor would not resubscribe")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run kept waiting on a closed bus")
	}
}
