package projections

import (
	"context"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authledger/authledger/eventstore"
)

// hub is the instance's one subscription to the ledger, fanned out in
// process to every projection's feed: each record is read from the store
// once, kept in a bounded window of recent records, and handed to every
// feed whose position it follows. A feed that is behind the window (a
// projection starting from 0, rebuilt, or stalled on a slow read model)
// reads the store on its own, page by page, until the window covers its
// position, and then joins: it takes the window's records after its own
// position, so it sees each position once and none is skipped, because
// the window holds every record after its base and the shared
// subscription appends in ledger order. A feed that falls out of the
// window again goes back to reading on its own.
type hub struct {
	store  eventstore.Store
	window int
	retry  time.Duration
	log    func(msg string, args ...any)

	mu sync.Mutex
	// recs are the most recent records, in position order; every record
	// after base is in recs or not read yet. live is false until the
	// shared subscription has started, and while it is down.
	recs []eventstore.Record
	base uint64
	live bool
	err  error // why the shared subscription last stopped
	sig  *eventstore.Signal

	// shared counts the records the shared subscription read; own those
	// the feeds read on their own (tests and the lag benchmark).
	shared, own atomic.Uint64
}

// defaultWindow is how many recent records the hub keeps: at ~10,000
// appends a second, a second's worth, so a projection that pauses for a
// moment (a slow transaction, a GC) stays on the shared stream.
const defaultWindow = 8192

func newHub(store eventstore.Store, window int, retry time.Duration, log func(string, ...any)) *hub {
	if window <= 0 {
		window = defaultWindow
	}
	return &hub{store: store, window: window, retry: retry, log: log, sig: eventstore.NewSignal()}
}

// errBehind: the feed's position fell out of the window.
var errBehind = errors.New("projections: feed behind the shared window")

// run keeps the shared subscription until ctx ends, resuming after its
// last record when the store fails. It starts at the ledger's beginning
// when fromStart (memory projections fold from position 0 at every start,
// so they all catch up on the one read), else at the head it finds.
func (h *hub) run(ctx context.Context, fromStart bool) {
	var after uint64
	for needHead := !fromStart; ctx.Err() == nil; {
		if needHead {
			head, err := h.store.Head(ctx)
			if err != nil {
				h.down(ctx, err)
				continue
			}
			needHead, after = false, head.Position
			h.mu.Lock()
			h.base = after
			h.mu.Unlock()
		}
		h.mu.Lock()
		h.live, h.err = true, nil
		h.mu.Unlock()
		h.sig.Notify()
		err := h.store.Subscribe(ctx, after, func(_ context.Context, r eventstore.Record) error {
			h.add(r)
			after = r.Position
			return nil
		})
		if ctx.Err() != nil {
			break
		}
		h.down(ctx, err)
	}
	h.mu.Lock()
	h.live, h.err = false, context.Canceled
	h.mu.Unlock()
	h.sig.Notify()
}

// down marks the shared subscription stopped by err and waits before the
// next attempt. Feeds on the shared stream return err (their worker
// reports and retries it, as it did a failed feed of its own).
func (h *hub) down(ctx context.Context, err error) {
	h.mu.Lock()
	h.live, h.err = false, err
	h.mu.Unlock()
	h.sig.Notify()
	if h.log != nil {
		h.log("shared ledger feed stopped; resuming", "err", err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(h.retry):
	}
}

func (h *hub) add(r eventstore.Record) {
	h.shared.Add(1)
	h.mu.Lock()
	h.recs = append(h.recs, r)
	if len(h.recs) >= 2*h.window {
		// Compact into a new array: feeds may still hold sub-slices of
		// the old one, which are never written again.
		keep := make([]eventstore.Record, h.window, 2*h.window)
		copy(keep, h.recs[len(h.recs)-h.window:])
		h.recs = keep
		h.base = keep[0].Position - 1
	}
	h.mu.Unlock()
	h.sig.Notify()
}

// covers reports whether the window (with what the shared subscription
// will still read) holds every record after pos.
func (h *hub) covers(pos uint64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.live && pos >= h.base
}

// Subscribe delivers every record after `after` to fn, in order, each
// once: from the store on its own while the window does not reach back to
// its position, from the window after. It implements Store.Subscribe's
// contract for the feeds.
func (h *hub) Subscribe(ctx context.Context, after uint64, fn eventstore.Handler) error {
	cursor := after
	for {
		if h.covers(cursor) {
			err := h.follow(ctx, &cursor, fn)
			if !errors.Is(err, errBehind) {
				return err
			}
		}
		if err := h.catchUp(ctx, &cursor, fn); err != nil {
			return err
		}
	}
}

// catchUp reads the store after *cursor until the window covers it.
func (h *hub) catchUp(ctx context.Context, cursor *uint64, fn eventstore.Handler) error {
	for !h.covers(*cursor) {
		wake := h.sig.Wait()
		recs, err := h.store.ReadAll(ctx, *cursor, eventstore.FeedBatch)
		if err != nil {
			return err
		}
		h.own.Add(uint64(len(recs)))
		for _, r := range recs {
			if err := fn(ctx, r); err != nil {
				return err
			}
			*cursor = r.Position
		}
		if len(recs) == 0 {
			// At the head while the shared subscription is (re)starting:
			// wait for it, bounded so a lost wake-up only delays.
			t := time.NewTimer(h.retry)
			select {
			case <-ctx.Done():
			case <-wake:
			case <-t.C:
			}
			t.Stop()
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	return nil
}

// follow delivers the window's records after *cursor, then each new one,
// until ctx ends, the shared subscription fails or *cursor falls out of
// the window (errBehind).
func (h *hub) follow(ctx context.Context, cursor *uint64, fn eventstore.Handler) error {
	for {
		h.mu.Lock()
		if !h.live {
			err := h.err
			h.mu.Unlock()
			if err == nil {
				return errBehind
			}
			return err
		}
		if *cursor < h.base {
			h.mu.Unlock()
			return errBehind
		}
		i := sort.Search(len(h.recs), func(i int) bool { return h.recs[i].Position > *cursor })
		j := min(len(h.recs), i+eventstore.FeedBatch)
		batch := h.recs[i:j:j]
		wake := h.sig.Wait()
		h.mu.Unlock()
		for _, r := range batch {
			if err := fn(ctx, r); err != nil {
				return err
			}
			*cursor = r.Position
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		}
	}
}
