package sessionstore

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/authledger/authledger/domain/session"
)

// Memory is the embedded profile's in-process session store.
type Memory struct {
	mu      sync.Mutex
	now     func() time.Time
	byID    map[string]memEntry
	byToken map[string]string
}

type memEntry struct {
	rec      session.Record
	deadline time.Time
}

// NewMemory returns an empty store; now (nil: time.Now) drives its ttl.
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, byID: map[string]memEntry{}, byToken: map[string]string{}}
}

func (m *Memory) Create(ctx context.Context, rec session.Record, ttl time.Duration) error {
	return m.Save(ctx, rec, ttl)
}

func (m *Memory) Save(_ context.Context, rec session.Record, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.byID[rec.ID]; ok && old.rec.TokenHash != rec.TokenHash {
		delete(m.byToken, old.rec.TokenHash)
	}
	m.byID[rec.ID] = memEntry{rec: rec, deadline: m.now().Add(ttl)}
	m.byToken[rec.TokenHash] = rec.ID
	m.sweepLocked()
	return nil
}

// sweepLocked drops expired entries; amortised over writes so memory stays
// bounded without a background goroutine.
func (m *Memory) sweepLocked() {
	if len(m.byID)%64 != 0 {
		return
	}
	now := m.now()
	for id, e := range m.byID {
		if !now.Before(e.deadline) {
			delete(m.byID, id)
			delete(m.byToken, e.rec.TokenHash)
		}
	}
}

func (m *Memory) getLocked(id string) (session.Record, error) {
	e, ok := m.byID[id]
	if !ok || !m.now().Before(e.deadline) {
		return session.Record{}, session.ErrNotFound
	}
	return e.rec, nil
}

func (m *Memory) Lookup(_ context.Context, tokenHash string) (session.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.byToken[tokenHash]
	if !ok {
		return session.Record{}, session.ErrNotFound
	}
	return m.getLocked(id)
}

func (m *Memory) Get(_ context.Context, id string) (session.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.getLocked(id)
}

func (m *Memory) Touch(_ context.Context, rec session.Record, lastSeen time.Time, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.byID[rec.ID]
	if !ok || e.rec.TokenHash != rec.TokenHash {
		return nil // rotated or gone meanwhile: nothing to extend
	}
	if lastSeen.After(e.rec.LastSeen) {
		e.rec.LastSeen = lastSeen
	}
	e.deadline = m.now().Add(ttl)
	m.byID[rec.ID] = e
	return nil
}

func (m *Memory) Delete(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.byID[id]; ok {
		delete(m.byToken, e.rec.TokenHash)
		delete(m.byID, id)
	}
	return nil
}

func (m *Memory) ListBySubject(_ context.Context, subject string) ([]session.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []session.Record
	now := m.now()
	for _, e := range m.byID {
		if e.rec.Subject == subject && now.Before(e.deadline) {
			out = append(out, e.rec)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

func (m *Memory) Ping(context.Context) error { return nil }
