package eventstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// WritableChecker is implemented by adapters that can tell, without
// writing, whether their ledger accepts writes now: a read-only file or
// directory, a full disk, a read-only PostgreSQL server or standby. It
// answers an *UnavailableError when it does not.
type WritableChecker interface {
	CheckWritable(ctx context.Context) error
}

// ErrNotWritable is matched by the error WriteHealth.Check returns while
// the ledger is judged unable to take appends.
var ErrNotWritable = errors.New("eventstore: ledger not writable")

// WriteHealth is a Store that remembers the outcome of real appends, so
// readiness can say whether this instance can write the ledger without a
// synthetic write per probe. An append that fails as an outage
// (ErrUnavailable) makes Check fail until an append succeeds. Because a
// failing readiness takes the instance out of the load balancer, and so
// away from the appends that would prove it healed, Check lets traffic
// back in once Quiet has passed since the last failure and the adapter's
// WritableChecker (if any) passes: the next real append then decides.
type WriteHealth struct {
	Store
	quiet time.Duration
	now   func() time.Time

	mu       sync.Mutex
	failing  bool
	lastFail time.Time
	lastErr  error
}

// DefaultWriteQuiet is how long after a failed append the instance stays
// unready when nothing else shows the ledger healed.
const DefaultWriteQuiet = 10 * time.Second

// NewWriteHealth wraps s; quiet 0 means DefaultWriteQuiet, now nil means
// time.Now.
func NewWriteHealth(s Store, quiet time.Duration, now func() time.Time) *WriteHealth {
	if quiet <= 0 {
		quiet = DefaultWriteQuiet
	}
	if now == nil {
		now = time.Now
	}
	return &WriteHealth{Store: s, quiet: quiet, now: now}
}

// Append appends through the wrapped store and records the outcome. A
// version conflict, an invalid event or a caller's ended context says
// nothing about the store's health and is not recorded.
func (w *WriteHealth) Append(ctx context.Context, appends ...StreamAppend) ([]Record, error) {
	recs, err := w.Store.Append(ctx, appends...)
	switch {
	case err == nil:
		w.mu.Lock()
		w.failing, w.lastErr = false, nil
		w.mu.Unlock()
	case errors.Is(err, ErrUnavailable):
		w.fail(err)
	}
	return recs, err
}

func (w *WriteHealth) fail(err error) {
	w.mu.Lock()
	w.failing, w.lastFail, w.lastErr = true, w.now(), err
	w.mu.Unlock()
}

// Probe runs the adapter's WritableChecker once (at start) and records a
// failure as if an append had failed. It returns that failure.
func (w *WriteHealth) Probe(ctx context.Context) error {
	wc, ok := w.Store.(WritableChecker)
	if !ok {
		return nil
	}
	if err := wc.CheckWritable(ctx); err != nil {
		w.fail(err)
		return err
	}
	return nil
}

// Check is the readiness check: nil when the last append (or the start
// probe) did not fail, or when the failure is older than quiet and the
// adapter's non-writing check passes.
func (w *WriteHealth) Check(ctx context.Context) error {
	w.mu.Lock()
	failing, last, lastErr := w.failing, w.lastFail, w.lastErr
	w.mu.Unlock()
	if !failing {
		return nil
	}
	if since := w.now().Sub(last); since < w.quiet {
		return fmt.Errorf("%w: an append failed %s ago: %w", ErrNotWritable, since.Round(time.Millisecond), lastErr)
	}
	if wc, ok := w.Store.(WritableChecker); ok {
		if err := wc.CheckWritable(ctx); err != nil {
			// Keep the clock running from now, so the check is not run by
			// every probe.
			w.fail(err)
			return fmt.Errorf("%w: %w", ErrNotWritable, err)
		}
	}
	return nil
}
