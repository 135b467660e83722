// Package bus builds the Watermill Pub/Sub that carries hints between
// authledger instances: revocations and JWKS invalidations. The ledger stays
// the source of truth, so a lost message is only a delay (the ledger feed
// delivers the same fact a little later); the bus makes it sooner.
//
// With Redis configured (production profile) messages travel on Redis
// streams through watermill-redisstream, in fan-out mode: every subscriber
// reads the stream itself (no consumer group), so every instance receives
// every message, and each stream is trimmed to about MaxLen entries on
// every publish. Without Redis (embedded profile) Watermill's GoChannel
// carries them within the process.
//
// Projection wake-ups do not use the bus: no Redis path carried them, and
// the ledger adapters already wake every instance's feed themselves
// (PostgreSQL NOTIFY is sent in the appending transaction, so it cannot
// arrive before the rows; SQLite runs one process). A bus message would be
// a second, weaker signal for the same thing.
package bus

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/redis/go-redis/v9"
)

// Topics. The names are part of the wire between instances of different
// versions: change one only with a release note.
const (
	// TopicRevocations carries one revocation per message: the JSON of
	// revocations.Entry (type, id, until).
	TopicRevocations = "revocations"
	// TopicJWKSInvalidations carries the key-ring version (decimal) an
	// instance reached after changing the ring.
	TopicJWKSInvalidations = "jwks.invalidate"
)

// Defaults for Config.
const (
	DefaultPrefix    = "authledger:bus:"
	DefaultMaxLen    = 10_000
	DefaultBlockTime = time.Second
)

// Config says which Pub/Sub to build. The zero value is the in-process bus.
type Config struct {
	// Redis, when set, carries messages between instances on Redis
	// streams; nil keeps them in this process. The bus never closes it:
	// the caller owns the client.
	Redis redis.UniversalClient
	// Prefix is put before every topic to name its Redis stream (default
	// DefaultPrefix). Tests pass a unique one.
	Prefix string
	// MaxLen is how many entries each stream keeps, approximately (XADD
	// MAXLEN ~); default DefaultMaxLen. A subscriber that falls further
	// behind loses the oldest hints, which the ledger feed still delivers.
	MaxLen int64
	// BlockTime is how long one stream read waits for a message (default
	// DefaultBlockTime), and so about how long a subscriber takes to
	// notice that its context ended.
	BlockTime time.Duration
	// Logger receives Watermill's own log lines (its info lines at debug
	// level); nil discards them.
	Logger *slog.Logger
}

// Validate reports every problem in c at once.
func (c Config) Validate() error {
	var errs []error
	if c.MaxLen < 0 {
		errs = append(errs, errors.New("bus: MaxLen is negative"))
	}
	if c.BlockTime < 0 {
		errs = append(errs, errors.New("bus: BlockTime is negative"))
	}
	return errors.Join(errs...)
}

// Bus is a message.Publisher and message.Subscriber over the configured
// transport. Topics are the Topic constants; the bus adds the prefix.
type Bus struct {
	cfg    Config
	logger watermill.LoggerAdapter
	pub    message.Publisher
	local  *gochannel.GoChannel // nil on Redis

	// reads counts stream reads in flight, so Close can wait for them
	// before the caller closes the client under them.
	reads *atomic.Int64

	mu     sync.Mutex
	subs   []*redisstream.Subscriber
	live   map[string]int
	closed bool
}

var (
	_ message.Publisher  = (*Bus)(nil)
	_ message.Subscriber = (*Bus)(nil)
)

// New builds the bus c describes.
func New(c Config) (*Bus, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.MaxLen == 0 {
		c.MaxLen = DefaultMaxLen
	}
	if c.BlockTime == 0 {
		c.BlockTime = DefaultBlockTime
	}
	var logger watermill.LoggerAdapter = watermill.NopLogger{}
	if c.Logger != nil {
		logger = watermill.NewSlogLoggerWithLevelMapping(c.Logger, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
	}
	b := &Bus{cfg: c, logger: logger, live: map[string]int{}, reads: new(atomic.Int64)}
	if c.Redis == nil {
		b.local = gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 64}, logger)
		b.pub = b.local
		return b, nil
	}
	pub, err := redisstream.NewPublisher(redisstream.PublisherConfig{
		Client:        b.client(),
		DefaultMaxlen: c.MaxLen,
	}, logger)
	if err != nil {
		return nil, err
	}
	b.pub = pub
	return b, nil
}

// Distributed reports whether messages leave this process (Redis).
func (b *Bus) Distributed() bool { return b.local == nil }

// Stream is the Redis stream key that carries topic.
func (b *Bus) Stream(topic string) string { return b.cfg.Prefix + topic }

// Publish sends msgs on topic to every subscriber of every instance. On
// Redis it waits for the server's answer, bounded by each message's
// context.
func (b *Bus) Publish(topic string, msgs ...*message.Message) error {
	if b.local != nil {
		return b.local.Publish(topic, msgs...)
	}
	return b.pub.Publish(b.Stream(topic), msgs...)
}

// Subscribe returns the messages published on topic from now on, until
// ctx ends or the transport fails (then the channel closes and the caller
// subscribes again). Every message must be acked: the next one waits for
// it. On Redis the subscription starts after the stream's last entry as
// Subscribe saw it, so nothing published after Subscribe returns is missed
// and nothing older is replayed.
func (b *Bus) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return nil, errors.New("bus: closed")
	}
	var (
		ch  <-chan *message.Message
		err error
	)
	if b.local != nil {
		ch, err = b.local.Subscribe(ctx, topic)
	} else {
		ch, err = b.subscribeRedis(ctx, topic)
	}
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.live[topic]++
	b.mu.Unlock()
	go func() {
		<-ctx.Done()
		b.mu.Lock()
		b.live[topic]--
		b.mu.Unlock()
	}()
	return ch, nil
}

func (b *Bus) subscribeRedis(ctx context.Context, topic string) (<-chan *message.Message, error) {
	stream := b.Stream(topic)
	// Resolve "$" now: redisstream would read from "$" until its first
	// message arrives, so a message published between two of its blocking
	// reads would be missed.
	last, err := b.cfg.Redis.XRevRangeN(ctx, stream, "+", "-", 1).Result()
	if err != nil {
		return nil, err
	}
	start := "0-0"
	if len(last) > 0 {
		start = last[0].ID
	}
	sub, err := redisstream.NewSubscriber(redisstream.SubscriberConfig{
		Client:                        b.client(),
		FanOutOldestId:                start,
		BlockTime:                     b.cfg.BlockTime,
		DisableIndefiniteInitialBlock: true,
		// Stop on a read error instead of retrying twice a second with a
		// log line each time: the caller resubscribes with its own backoff.
		ShouldStopOnReadErrors: func(error) bool { return true },
	}, b.logger)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.subs = append(b.subs, sub)
	b.mu.Unlock()
	return sub.Subscribe(ctx, stream)
}

// Subscriptions counts the subscriptions to topic whose context has not
// ended yet; tests wait on it before publishing.
func (b *Bus) Subscriptions(topic string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.live[topic]
}

// Close ends every subscription and the publisher. It leaves the Redis
// client open: its owner closes it.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	subs := b.subs
	b.subs = nil
	b.mu.Unlock()
	var errs []error
	for _, s := range subs {
		errs = append(errs, s.Close())
	}
	errs = append(errs, b.pub.Close())
	// redisstream's Close does not wait for a blocking read to return;
	// closing the client under it makes go-redis complain. A read lasts at
	// most BlockTime.
	for deadline := time.Now().Add(b.cfg.BlockTime + time.Second); b.reads.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	return errors.Join(errs...)
}

func (b *Bus) client() redis.UniversalClient {
	return shared{UniversalClient: b.cfg.Redis, reads: b.reads}
}

// shared is the caller's client as redisstream sees it: its Publisher and
// Subscriber close their client on Close, and this one stays open; and its
// stream reads are counted.
type shared struct {
	redis.UniversalClient
	reads *atomic.Int64
}

func (shared) Close() error { return nil }

func (c shared) XRead(ctx context.Context, a *redis.XReadArgs) *redis.XStreamSliceCmd {
	c.reads.Add(1)
	defer c.reads.Add(-1)
	return c.UniversalClient.XRead(ctx, a)
}
