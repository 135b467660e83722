package jwks

import (
	"context"
	"strconv"

	"github.com/redis/go-redis/v9"

	"authledger/eventstore"
)

// InvalidationChannel is the Redis pub/sub channel on which an instance
// that changed the key ring announces the new keyring version.
const InvalidationChannel = "authledger:jwks:invalidate"

// PublishInvalidation announces that the ring reached version (best effort:
// the ledger feed delivers the change anyway, Redis only makes it sooner).
func PublishInvalidation(ctx context.Context, rdb redis.UniversalClient, version uint64) error {
	return rdb.Publish(ctx, InvalidationChannel, strconv.FormatUint(version, 10)).Err()
}

// ListenInvalidations reloads m from store whenever another instance
// announces a version newer than m holds, until ctx ends.
func ListenInvalidations(ctx context.Context, rdb redis.UniversalClient, m *Model, store eventstore.Store) error {
	sub := rdb.Subscribe(ctx, InvalidationChannel)
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		return err
	}
	ch := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case msg, ok := <-ch:
			if !ok {
				return ctx.Err()
			}
			v, err := strconv.ParseUint(msg.Payload, 10, 64)
			if err != nil || v <= m.Version() {
				continue
			}
			_ = m.Reload(ctx, store) // a failed reload leaves the feed to deliver
		}
	}
}
