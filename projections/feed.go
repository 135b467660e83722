package projections

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"authledger/eventstore"
)

// Message metadata keys set by the feed.
const (
	metaPosition = "position"
	metaType     = "type"
	// metaSkip marks a checkpoint-only message: the records up to its
	// position are ones the projection does not handle.
	metaSkip = "skip"
	// metaAt is the skipped record's recorded time (Unix µs) for lag.
	metaAt = "recorded_at"
	// metaBatch marks a message whose payload is a JSON array of handled
	// records; its position (and recorded_at) is the last ledger record it
	// covers, which may be an unhandled one after the last handled record.
	metaBatch = "batch"
)

// skipFlushEvery and skipFlushIdle bound how far the stored checkpoint
// trails the head when a projection handles none of the recent events.
const (
	skipFlushEvery = 512
	skipFlushIdle  = 50 * time.Millisecond
)

// feed is the ledger exposed as a Watermill message.Subscriber for one
// projection: one message per handled record, each acked before the next,
// starting after the checkpoint that from returns at Subscribe time. A
// nacked message is redelivered (as a new message for the same records)
// only after resume fires, so a poisoned record is never skipped.
//
// With batch > 1 (SQL projections) the ledger subscription reads ahead
// into a buffer of that many records while the handler works, and a
// message carries every handled record already waiting there (up to
// batch), so a backlog costs one read-model transaction instead of one per
// event. Watermill handlers take one message at a time, so the batch is a
// message rather than a handler option; nothing waits for a batch to fill,
// so an idle ledger still gets one record per message and no added delay.
type feed struct {
	store   eventstore.Store
	handles map[string]bool
	from    func(ctx context.Context) (uint64, error)
	resume  func() <-chan struct{}
	batch   int

	mu     sync.Mutex
	closed bool
	cancel []context.CancelFunc
	wg     sync.WaitGroup
}

var _ message.Subscriber = (*feed)(nil)

func (f *feed) Subscribe(ctx context.Context, _ string) (<-chan *message.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, errors.New("projections: feed closed")
	}
	after, err := f.from(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	f.cancel = append(f.cancel, cancel)
	out := make(chan *message.Message)
	buffered := 0
	if f.batch > 1 {
		buffered = f.batch
	}
	recs := make(chan eventstore.Record, buffered)
	f.wg.Add(2)
	go func() {
		defer f.wg.Done()
		defer cancel() // a failed ledger feed ends this subscription
		_ = f.store.Subscribe(ctx, after, func(ctx context.Context, r eventstore.Record) error {
			select {
			case recs <- r:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	go func() {
		defer f.wg.Done()
		defer close(out)
		f.pump(ctx, recs, out)
	}()
	return out, nil
}

func (f *feed) pump(ctx context.Context, recs <-chan eventstore.Record, out chan<- *message.Message) {
	var skipped, pending uint64 // last skipped position; count not yet flushed
	var skippedAt time.Time
	idle := time.NewTimer(time.Hour)
	defer idle.Stop()
	flush := func() bool {
		ok := f.deliver(ctx, out, skipMessage(skipped, skippedAt))
		pending = 0
		return ok
	}
	for {
		select {
		case <-ctx.Done():
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
			var msg *message.Message
			var err error
			if f.batch > 1 {
				msg, err = batchMessage(f.drain(r, recs))
			} else {
				msg, err = recordMessage(r)
			}
			if err != nil {
				return
			}
			if !f.deliver(ctx, out, msg) {
				return
			}
		}
	}
}

// deliver sends msg and waits for its ack; on a nack it waits for resume
// and sends a copy, forever, so the record is never skipped.
func (f *feed) deliver(ctx context.Context, out chan<- *message.Message, msg *message.Message) bool {
	for {
		m := msg.Copy()
		// Taken before the handler runs, so a resume that comes between
		// the poison report and the nack is not missed.
		resumed := f.resume()
		select {
		case out <- m:
		case <-ctx.Done():
			return false
		}
		select {
		case <-m.Acked():
			return true
		case <-m.Nacked():
		case <-ctx.Done():
			return false
		}
		select {
		case <-resumed:
		case <-ctx.Done():
			return false
		}
	}
}

// drain returns first and the handled records already waiting behind it
// (up to f.batch), and the last record taken, handled or not: the batch
// covers the ledger up to it. It never waits.
func (f *feed) drain(first eventstore.Record, recs <-chan eventstore.Record) ([]eventstore.Record, eventstore.Record) {
	batch, through := []eventstore.Record{first}, first
	// Bounded in records taken too, so a flood of unhandled records
	// cannot keep a batch open.
	for taken := 0; len(batch) < f.batch && taken < skipFlushEvery; taken++ {
		select {
		case r := <-recs:
			through = r
			if f.handles[r.Type] {
				batch = append(batch, r)
			}
		default:
			return batch, through
		}
	}
	return batch, through
}

func (f *feed) Close() error {
	f.mu.Lock()
	f.closed = true
	for _, c := range f.cancel {
		c()
	}
	f.mu.Unlock()
	f.wg.Wait()
	return nil
}

func recordMessage(r eventstore.Record) (*message.Message, error) {
	b, err := json.Marshal(wireRecord(r))
	if err != nil {
		return nil, err
	}
	m := message.NewMessage(r.ID, b)
	m.Metadata.Set(metaPosition, strconv.FormatUint(r.Position, 10))
	m.Metadata.Set(metaType, r.Type)
	return m, nil
}

// batchMessage encodes handled records covering the ledger up to through;
// a lone record keeps the one-record form.
func batchMessage(recs []eventstore.Record, through eventstore.Record) (*message.Message, error) {
	if len(recs) == 1 && recs[0].Position == through.Position {
		return recordMessage(recs[0])
	}
	ws := make([]wireRecord, len(recs))
	for i, r := range recs {
		ws[i] = wireRecord(r)
	}
	b, err := json.Marshal(ws)
	if err != nil {
		return nil, err
	}
	m := message.NewMessage("batch-"+strconv.FormatUint(recs[0].Position, 10)+"-"+strconv.FormatUint(through.Position, 10), b)
	m.Metadata.Set(metaPosition, strconv.FormatUint(through.Position, 10))
	m.Metadata.Set(metaAt, strconv.FormatInt(through.RecordedAt.UnixMicro(), 10))
	m.Metadata.Set(metaBatch, strconv.Itoa(len(recs)))
	return m, nil
}

func skipMessage(pos uint64, at time.Time) *message.Message {
	m := message.NewMessage("skip-"+strconv.FormatUint(pos, 10), nil)
	m.Metadata.Set(metaPosition, strconv.FormatUint(pos, 10))
	m.Metadata.Set(metaAt, strconv.FormatInt(at.UnixMicro(), 10))
	m.Metadata.Set(metaSkip, "1")
	return m
}

// wireRecord is the message payload; a named type so the JSON field names
// are fixed here rather than by eventstore.Record's Go names.
type wireRecord eventstore.Record

// decode returns the record of a message, or skip=true with only the position
// for a checkpoint-only message.
func decode(m *message.Message) (r eventstore.Record, skip bool, err error) {
	pos, err := strconv.ParseUint(m.Metadata.Get(metaPosition), 10, 64)
	if err != nil {
		return r, false, errors.New("projections: message without position")
	}
	if m.Metadata.Get(metaSkip) == "1" {
		at, _ := strconv.ParseInt(m.Metadata.Get(metaAt), 10, 64)
		return eventstore.Record{Position: pos, RecordedAt: time.UnixMicro(at).UTC()}, true, nil
	}
	if m.Metadata.Get(metaBatch) != "" {
		return r, false, errors.New("projections: batch message where one record was expected")
	}
	var w wireRecord
	if err := json.Unmarshal(m.Payload, &w); err != nil {
		return r, false, err
	}
	return eventstore.Record(w), false, nil
}

// decodeAll returns the handled records of any message (none for a
// checkpoint-only one) and the last ledger record it covers (only its
// Position and RecordedAt are meaningful).
func decodeAll(m *message.Message) (recs []eventstore.Record, through eventstore.Record, err error) {
	if m.Metadata.Get(metaBatch) == "" {
		r, skip, err := decode(m)
		if err != nil || skip {
			return nil, r, err
		}
		return []eventstore.Record{r}, r, nil
	}
	pos, err := strconv.ParseUint(m.Metadata.Get(metaPosition), 10, 64)
	if err != nil {
		return nil, through, errors.New("projections: message without position")
	}
	at, _ := strconv.ParseInt(m.Metadata.Get(metaAt), 10, 64)
	var ws []wireRecord
	if err := json.Unmarshal(m.Payload, &ws); err != nil {
		return nil, through, err
	}
	recs = make([]eventstore.Record, len(ws))
	for i, w := range ws {
		recs[i] = eventstore.Record(w)
	}
	return recs, eventstore.Record{Position: pos, RecordedAt: time.UnixMicro(at).UTC()}, nil
}
