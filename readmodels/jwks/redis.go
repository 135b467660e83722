package jwks

import (
	"context"
	"errors"
	"strconv"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/internal/bus"
)

// PublishInvalidation announces on bus.TopicJWKSInvalidations that the ring
// reached version (best effort: the ledger feed delivers the change anyway,
// the bus only makes it sooner).
func PublishInvalidation(ctx context.Context, pub message.Publisher, version uint64) error {
	m := message.NewMessage(watermill.NewUUID(), []byte(strconv.FormatUint(version, 10)))
	m.SetContext(ctx)
	return pub.Publish(bus.TopicJWKSInvalidations, m)
}

// ListenInvalidations reloads m from store whenever an instance announces a
// version newer than m holds, until ctx ends. It returns when the
// subscription ends, so the caller resubscribes with its own backoff.
func ListenInvalidations(ctx context.Context, sub message.Subscriber, m *Model, store eventstore.Store) error {
	ch, err := sub.Subscribe(ctx, bus.TopicJWKSInvalidations)
	if err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case msg, ok := <-ch:
			if !ok {
				if err := ctx.Err(); err != nil {
					return err
				}
				return errors.New("jwks: bus subscription ended")
			}
			msg.Ack()
			v, err := strconv.ParseUint(string(msg.Payload), 10, 64)
			if err != nil || v <= m.Version() {
				continue
			}
			_ = m.Reload(ctx, store) // a failed reload leaves the feed to deliver
		}
	}
}
