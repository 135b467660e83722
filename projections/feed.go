package projections

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/authledger/authledger/eventstore"
)

// Metadata keys of a ledger record carried as a Watermill message. The
// payload is the event's data, byte for byte; the envelope travels here,
// so nothing is encoded or decoded twice within an instance.
const (
	MetaPosition   = "position"
	MetaStream     = "stream"
	MetaVersion    = "version"
	MetaType       = "type"
	MetaRecordedAt = "recorded_at" // Unix microseconds
	MetaHash       = "hash"
	MetaPrevHash   = "prev_hash"
	MetaMetadata   = "metadata" // the event's JSON metadata object, verbatim
	// metaSkip marks a checkpoint-only message: the records up to its
	// position are ones the projection does not handle.
	metaSkip = "skip"
)

// RecordMessage is r as a Watermill message: its data as the payload, its
// id as the message UUID, the rest of the envelope as metadata.
func RecordMessage(r eventstore.Record) *message.Message {
	m := message.NewMessage(r.ID, message.Payload(r.Data))
	m.Metadata.Set(MetaPosition, strconv.FormatUint(r.Position, 10))
	m.Metadata.Set(MetaStream, r.Stream)
	m.Metadata.Set(MetaVersion, strconv.FormatUint(r.Version, 10))
	m.Metadata.Set(MetaType, r.Type)
	m.Metadata.Set(MetaRecordedAt, strconv.FormatInt(r.RecordedAt.UnixMicro(), 10))
	m.Metadata.Set(MetaHash, r.Hash)
	m.Metadata.Set(MetaPrevHash, r.PrevHash)
	if len(r.Metadata) > 0 {
		m.Metadata.Set(MetaMetadata, string(r.Metadata))
	}
	return m
}

// ErrNotARecord is returned for a message without a ledger position.
var ErrNotARecord = errors.New("projections: message carries no ledger record")

// MessageRecord is the ledger record a RecordMessage carries.
func MessageRecord(m *message.Message) (eventstore.Record, error) {
	pos, err := strconv.ParseUint(m.Metadata.Get(MetaPosition), 10, 64)
	if err != nil {
		return eventstore.Record{}, ErrNotARecord
	}
	version, _ := strconv.ParseUint(m.Metadata.Get(MetaVersion), 10, 64)
	at, _ := strconv.ParseInt(m.Metadata.Get(MetaRecordedAt), 10, 64)
	r := eventstore.Record{
		Position:   pos,
		Stream:     m.Metadata.Get(MetaStream),
		Version:    version,
		ID:         m.UUID,
		Type:       m.Metadata.Get(MetaType),
		RecordedAt: time.UnixMicro(at).UTC(),
		Data:       json.RawMessage(m.Payload),
		PrevHash:   m.Metadata.Get(MetaPrevHash),
		Hash:       m.Metadata.Get(MetaHash),
	}
	if md := m.Metadata.Get(MetaMetadata); md != "" {
		r.Metadata = json.RawMessage(md)
	}
	return r, nil
}

func skipMessage(pos uint64, at time.Time) *message.Message {
	m := message.NewMessage("skip-"+strconv.FormatUint(pos, 10), nil)
	m.Metadata.Set(MetaPosition, strconv.FormatUint(pos, 10))
	m.Metadata.Set(MetaRecordedAt, strconv.FormatInt(at.UnixMicro(), 10))
	m.Metadata.Set(metaSkip, "1")
	return m
}

// delivered is what a feed's message carries in its context: the record
// itself, so the handler in the same process reads it without parsing the
// message's metadata back (decode's fast path).
type delivered struct {
	rec  eventstore.Record
	skip bool
}

type deliveredKey struct{}

// localMessage is r as a message for a handler in this process: the
// payload and the two metadata keys that name it in Watermill's logs; the
// rest of the envelope travels in the context deliver gives it.
func localMessage(r eventstore.Record) *message.Message {
	m := message.NewMessage(r.ID, message.Payload(r.Data))
	m.Metadata.Set(MetaPosition, strconv.FormatUint(r.Position, 10))
	m.Metadata.Set(MetaType, r.Type)
	return m
}

// decode returns the record of a message, or skip=true with only the
// position and recorded time for a checkpoint-only message.
func decode(m *message.Message) (r eventstore.Record, skip bool, err error) {
	if d, ok := m.Context().Value(deliveredKey{}).(*delivered); ok {
		return d.rec, d.skip, nil
	}
	r, err = MessageRecord(m)
	if err != nil {
		return r, false, err
	}
	if m.Metadata.Get(metaSkip) == "1" {
		return eventstore.Record{Position: r.Position, RecordedAt: r.RecordedAt}, true, nil
	}
	return r, false, nil
}

// skipFlushEvery and skipFlushIdle bound how far the stored checkpoint
// trails the head when a projection handles none of the recent events.
const (
	skipFlushEvery = 512
	skipFlushIdle  = 50 * time.Millisecond
)

// closeWait bounds how long a run that ends waits for the handler to
// finish the message in flight, so the next run never overlaps it.
const closeWait = 10 * time.Second

// feed is the ledger exposed as a Watermill message.Subscriber for one
// projection. The router subscribes once, for the worker's lifetime; each
// run (an owned run, or a memory projection's pass over the feed) calls
// serve, which delivers one message per handled record after the given
// position, each acked before the next. A nacked message is redelivered
// (as a new message for the same record) only after resume fires, so a
// poisoned record is never skipped.
type feed struct {
	store   ledgerFeed
	handles map[string]bool
	resume  func() <-chan struct{}

	in        chan *message.Message
	mu        sync.Mutex // serializes serve calls
	closed    chan struct{}
	closeOnce sync.Once
}

var _ message.Subscriber = (*feed)(nil)

// ledgerFeed is where a feed reads the ledger: the runner's hub (one
// shared subscription), or a store itself.
type ledgerFeed interface {
	Subscribe(ctx context.Context, after uint64, h eventstore.Handler) error
}

func newFeed(store ledgerFeed, handles map[string]bool, resume func() <-chan struct{}) *feed {
	return &feed{store: store, handles: handles, resume: resume, in: make(chan *message.Message), closed: make(chan struct{})}
}

// Subscribe returns the channel the runs deliver to; the router calls it
// once. It is closed when ctx ends or the feed closes, which ends the
// router's handler.
func (f *feed) Subscribe(ctx context.Context, _ string) (<-chan *message.Message, error) {
	out := make(chan *message.Message)
	go func() {
		defer close(out)
		for {
			select {
			case m := <-f.in:
				select {
				case out <- m:
				case <-ctx.Done():
					return
				case <-f.closed:
					return
				}
			case <-ctx.Done():
				return
			case <-f.closed:
				return
			}
		}
	}()
	return out, nil
}

// Close ends delivery.
func (f *feed) Close() error {
	f.closeOnce.Do(func() { close(f.closed) })
	return nil
}

// serve delivers the ledger after position after until ctx ends or the
// ledger subscription fails (then it returns that error). Messages carry
// ctx, so a handler's work ends with the run.
func (f *feed) serve(ctx context.Context, after uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	recs := make(chan eventstore.Record)
	subErr := make(chan error, 1)
	go func() {
		defer cancel() // a failed ledger feed ends this run
		subErr <- f.store.Subscribe(ctx, after, func(ctx context.Context, r eventstore.Record) error {
			select {
			case recs <- r:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	f.pump(ctx, recs)
	cancel()
	err := <-subErr
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

func (f *feed) pump(ctx context.Context, recs <-chan eventstore.Record) {
	var skipped, pending uint64 // last skipped position; count not yet flushed
	var skippedAt time.Time
	idle := time.NewTimer(time.Hour)
	defer idle.Stop()
	flush := func() bool {
		ok := f.deliver(ctx, skipMessage(skipped, skippedAt), &delivered{rec: eventstore.Record{Position: skipped, RecordedAt: skippedAt}, skip: true})
		pending = 0
		return ok
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.closed:
			return
		case <-idle.C:
			if pending > 0 && !flush() {
				return
			}
		case r := <-recs:
			if !f.handles[r.Type] {
				skipped, skippedAt = r.Position, r.RecordedAt
				pending++
				if pending >= skipFlushEvery && !flush() {
					return
				}
				idle.Reset(skipFlushIdle)
				continue
			}
			pending = 0
			if !f.deliver(ctx, localMessage(r), &delivered{rec: r}) {
				return
			}
		}
	}
}

// deliver sends msg and waits for its ack; on a nack it waits for resume
// and sends a copy, forever, so the record is never skipped. When ctx
// ends with the message in flight it still waits (bounded) for the
// handler, so two runs never apply at once.
func (f *feed) deliver(ctx context.Context, msg *message.Message, d *delivered) bool {
	mctx := context.WithValue(ctx, deliveredKey{}, d)
	for {
		m := msg.Copy()
		m.SetContext(mctx)
		// Taken before the handler runs, so a resume that comes between
		// the poison report and the nack is not missed.
		resumed := f.resume()
		select {
		case f.in <- m:
		case <-ctx.Done():
			return false
		case <-f.closed:
			return false
		}
		select {
		case <-m.Acked():
			return true
		case <-m.Nacked():
		case <-ctx.Done():
			select {
			case <-m.Acked():
			case <-m.Nacked():
			case <-time.After(closeWait):
			}
			return false
		}
		select {
		case <-resumed:
		case <-ctx.Done():
			return false
		case <-f.closed:
			return false
		}
	}
}
