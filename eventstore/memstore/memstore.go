// Package memstore is an in-memory ledger for unit tests of commands and
// projections. It passes the same contract suite as the durable adapters but
// keeps nothing across restarts, so the service never runs on it.
package memstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/authledger/authledger/eventstore"
)

// Store is an in-memory eventstore.Store.
type Store struct {
	mu       sync.RWMutex
	records  []eventstore.Record
	versions map[string]uint64
	byStream map[string][]int
	now      func() time.Time
	sig      *eventstore.Signal
	closed   bool
}

var _ eventstore.Store = (*Store)(nil)

// New returns an empty store; now may be nil for time.Now.
func New(now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{versions: map[string]uint64{}, byStream: map[string][]int{}, now: now, sig: eventstore.NewSignal()}
}

func (s *Store) Append(ctx context.Context, appends ...eventstore.StreamAppend) ([]eventstore.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Prepare hashes the bodies once, outside the lock; Seal reuses them.
	p, err := eventstore.Prepare(appends)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, eventstore.ErrClosed
	}
	if err := eventstore.CheckVersions(s.versions, appends); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	recs := p.Seal(s.headLocked(), s.now(), s.versions)
	for _, r := range recs {
		s.byStream[r.Stream] = append(s.byStream[r.Stream], len(s.records))
		s.records = append(s.records, r)
		s.versions[r.Stream] = r.Version
	}
	s.mu.Unlock()
	s.sig.Notify()
	return recs, nil
}

func (s *Store) headLocked() eventstore.Head {
	if len(s.records) == 0 {
		return eventstore.Head{Hash: eventstore.GenesisHash}
	}
	last := s.records[len(s.records)-1]
	return eventstore.Head{Position: last.Position, Hash: last.Hash, RecordedAt: last.RecordedAt}
}

func (s *Store) ReadStream(ctx context.Context, stream string) ([]eventstore.Record, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	idx := s.byStream[stream]
	out := make([]eventstore.Record, len(idx))
	for i, j := range idx {
		out[i] = s.records[j]
	}
	return out, ctx.Err()
}

func (s *Store) ReadAll(ctx context.Context, after uint64, limit int) ([]eventstore.Record, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if after >= uint64(len(s.records)) {
		return nil, ctx.Err()
	}
	end := uint64(len(s.records))
	if limit > 0 && after+uint64(limit) < end {
		end = after + uint64(limit)
	}
	return append([]eventstore.Record(nil), s.records[after:end]...), ctx.Err()
}

func (s *Store) Head(ctx context.Context) (eventstore.Head, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.headLocked(), ctx.Err()
}

func (s *Store) Subscribe(ctx context.Context, after uint64, h eventstore.Handler) error {
	return eventstore.Follow(ctx, s.ReadAll, s.sig, 0, after, h)
}

func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

// Import implements eventstore.Importer, for tests of ledger copies.
func (s *Store) Import(ctx context.Context, recs []eventstore.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	head, versions := s.headLocked(), map[string]uint64{}
	for _, r := range recs {
		v, ok := versions[r.Stream]
		if !ok {
			v = s.versions[r.Stream]
		}
		if r.Position != head.Position+1 || r.PrevHash != head.Hash || r.Version != v+1 {
			return fmt.Errorf("memstore: position %d does not continue the ledger at %d", r.Position, head.Position)
		}
		versions[r.Stream] = r.Version
		head = eventstore.Head{Position: r.Position, Hash: r.Hash, RecordedAt: r.RecordedAt}
	}
	for _, r := range recs {
		s.byStream[r.Stream] = append(s.byStream[r.Stream], len(s.records))
		s.records = append(s.records, r)
		s.versions[r.Stream] = r.Version
	}
	s.sig.Notify()
	return ctx.Err()
}
