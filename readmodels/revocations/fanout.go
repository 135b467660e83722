package revocations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/authledger/authledger/internal/bus"
)

// MaxHintID bounds the id of a revocation received over the bus: every id
// authledger issues (jti, sid, family, client id) is far shorter, so a longer one is
// junk and is dropped.
const MaxHintID = 128

// Fanout hurries revocations to every instance over the bus (Redis streams
// in production, in process on the embedded profile). The ledger feed
// remains the source of truth (a missed message is only a delay); the bus
// carries the entry the moment the revoking instance has appended it.
type Fanout struct {
	pub      message.Publisher
	sub      message.Subscriber
	set      *Set
	received atomic.Uint64
}

// NewFanout publishes on pub and applies what sub delivers to set, both on
// bus.TopicRevocations.
func NewFanout(pub message.Publisher, sub message.Subscriber, set *Set) *Fanout {
	return &Fanout{pub: pub, sub: sub, set: set}
}

// Publish adds the revocation to this instance's set at once, then
// announces it to every instance. An unknown kind is refused before either.
// A failed announcement is returned for logging; it never undoes the
// revocation.
func (f *Fanout) Publish(ctx context.Context, kind Kind, id string, until time.Time) error {
	if !known(kind) {
		return fmt.Errorf("revocations: unknown kind %q", kind)
	}
	e := Entry{Kind: kind, ID: id, Until: until}
	f.set.Add(e)
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	m := message.NewMessage(watermill.NewUUID(), b)
	m.SetContext(ctx)
	return f.pub.Publish(bus.TopicRevocations, m)
}

// PublishRevocation is commands.RevocationPublisher.
func (f *Fanout) PublishRevocation(ctx context.Context, kind, id string, until time.Time) error {
	return f.Publish(ctx, Kind(kind), id, until)
}

// Run applies announcements until ctx ends. Junk (not JSON, an unknown
// kind, an empty or oversized id) is acked and dropped. It returns when the
// subscription ends, so the caller resubscribes with its own backoff.
func (f *Fanout) Run(ctx context.Context) error {
	ch, err := f.sub.Subscribe(ctx, bus.TopicRevocations)
	if err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m, ok := <-ch:
			if !ok {
				if err := ctx.Err(); err != nil {
					return err
				}
				return errors.New("revocations: bus subscription ended")
			}
			if e, ok := decodeHint(m.Payload); ok {
				f.set.Add(e)
			}
			m.Ack()
			f.received.Add(1)
		}
	}
}

// Received counts the announcements Run has handled, applied or dropped.
func (f *Fanout) Received() uint64 { return f.received.Load() }

func decodeHint(b []byte) (Entry, bool) {
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil || e.ID == "" || len(e.ID) > MaxHintID || !known(e.Kind) {
		return Entry{}, false
	}
	return e, true
}

func known(k Kind) bool {
	switch k {
	case KindJTI, KindSession, KindFamily, KindClient:
		return true
	}
	return false
}
