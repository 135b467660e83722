package revocations

import (
	"context"
	"encoding/json"
	"time"

	"github.com/redis/go-redis/v9"
)

// Fanout hurries revocations to every instance through Redis pub/sub. The
// ledger feed remains the source of truth (a missed message is only a
// delay); pub/sub carries the entry the moment the revoking instance has
// appended it.
type Fanout struct {
	c       redis.UniversalClient
	channel string
	set     *Set
}

// NewFanout publishes and subscribes on channel (e.g. "authledger:revocations").
func NewFanout(c redis.UniversalClient, channel string, set *Set) *Fanout {
	return &Fanout{c: c, channel: channel, set: set}
}

// Publish announces e to every instance (including this one). Failures are
// returned for logging; they never undo a revocation.
func (f *Fanout) Publish(ctx context.Context, kind Kind, id string, until time.Time) error {
	e := Entry{Kind: kind, ID: id, Until: until}
	f.set.Add(e)
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return f.c.Publish(ctx, f.channel, b).Err()
}

// Run applies messages until ctx ends. go-redis resubscribes after a
// dropped connection on its own.
func (f *Fanout) Run(ctx context.Context) error {
	sub := f.c.Subscribe(ctx, f.channel)
	defer sub.Close()
	ch := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m, ok := <-ch:
			if !ok {
				return nil
			}
			var e Entry
			if err := json.Unmarshal([]byte(m.Payload), &e); err != nil || e.ID == "" || len(e.ID) > 128 {
				continue
			}
			switch e.Kind {
			case KindJTI, KindSession, KindFamily:
				f.set.Add(e)
			}
		}
	}
}

// PublishRevocation is commands.RevocationPublisher.
func (f *Fanout) PublishRevocation(ctx context.Context, kind, id string, until time.Time) error {
	return f.Publish(ctx, Kind(kind), id, until)
}
