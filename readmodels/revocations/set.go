// Package revocations is the in-memory revocation set every instance keeps
// (DESIGN.md §4): revoked access-token ids, ended sessions, revoked
// refresh families and disabled clients, each until the last token it
// covers expires. It is a
// memory projection of the ledger, optionally hurried along by Redis
// pub/sub, and it serves the cursor feed resource servers follow
// (docs/revocation.md).
package revocations

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/domain/token"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/projections"
)

// Kind names what an entry revokes.
type Kind string

const (
	KindJTI     Kind = "jti"
	KindSession Kind = "sid"
	KindFamily  Kind = "family"
	// KindClient revokes every token whose client_id is the entry's id: a
	// disabled client (client.Disabled), until its last token expires.
	KindClient Kind = "client"
)

// Entry is one revocation. Position is the ledger position it came from
// (0 for a pub/sub hint not yet seen in the ledger); Until is when every
// token it covers has expired, after which the entry is dropped.
type Entry struct {
	Position uint64    `json:"position"`
	Kind     Kind      `json:"type"`
	ID       string    `json:"id"`
	Until    time.Time `json:"until"`
}

// Set is safe for concurrent use: one goroutine applies the feed while
// verification reads on every request.
type Set struct {
	mu      sync.RWMutex
	entries map[Kind]map[string]time.Time
	// familyTokens maps a family to its live access tokens, because the
	// JWT carries sid but no family claim: revoking a family revokes them
	// by jti.
	familyTokens map[string]map[string]time.Time
	tokenFamily  map[string]string
	log          []Entry
	applied      uint64
	changed      *eventstore.Signal
	now          func() time.Time
	applies      int
	// parked counts Since calls waiting for a change, so a test can know
	// a long poll is really waiting before it makes the change.
	parked atomic.Int64
}

// The set is a runner memory projection (serve registers it after a
// CatchUp); Follow runs it straight off the ledger feed where no runner is
// wired.
var (
	_ projections.MemoryProjection = (*Set)(nil)
	_ projections.Advancer         = (*Set)(nil)
)

// New returns an empty set; now (nil: time.Now) drives expiry.
func New(now func() time.Time) *Set {
	if now == nil {
		now = time.Now
	}
	return &Set{
		entries:      map[Kind]map[string]time.Time{KindJTI: {}, KindSession: {}, KindFamily: {}, KindClient: {}},
		familyTokens: map[string]map[string]time.Time{},
		tokenFamily:  map[string]string{},
		changed:      eventstore.NewSignal(),
		now:          now,
	}
}

// Name is the projection name.
func (*Set) Name() string { return "revocations.v1" }

// Handles lists the ledger events the set folds.
func (*Set) Handles() []string {
	return []string{session.TypeEnded, token.TypeAccessTokenRevoked, refreshtoken.TypeRevoked, token.TypeIssued, client.TypeDisabled}
}

// Apply folds one ledger record. Unknown types are ignored, and so are
// records at or below the last position applied: the runner replays from
// position 0 after serve's CatchUp, and a replayed entry would be logged
// twice (and out of order) in the feed.
func (s *Set) Apply(_ context.Context, r eventstore.Record) error {
	if applied := s.Applied(); applied > 0 && r.Position <= applied {
		return nil
	}
	// Decode through the owning domain package's codec, so its upcasters
	// reach the set: the set only ever sees the newest shapes.
	var ev any
	var err error
	switch r.Type {
	case session.TypeEnded:
		ev, err = session.Decode(r.Type, r.Data)
	case token.TypeAccessTokenRevoked, token.TypeIssued:
		ev, err = token.Decode(r.Type, r.Data)
	case refreshtoken.TypeRevoked:
		ev, err = refreshtoken.Decode(r.Type, r.Data)
	case client.TypeDisabled:
		ev, err = client.Decode(r.Type, r.Data)
	}
	if err != nil {
		return fmt.Errorf("revocations: %s at %d: %w", r.Type, r.Position, err)
	}
	var add []Entry
	var track *token.IssuedEvent
	switch e := ev.(type) {
	case session.Ended:
		add = append(add, Entry{Kind: KindSession, ID: e.ID, Until: e.AccessUntil})
	case token.AccessTokenRevoked:
		add = append(add, Entry{Kind: KindJTI, ID: e.JTI, Until: e.ExpiresAt})
	case refreshtoken.Revoked:
		add = append(add, Entry{Kind: KindFamily, ID: e.Family.String(), Until: e.AccessUntil})
	case token.IssuedEvent:
		if e.FamilyID != "" {
			track = &e
		}
	case client.Disabled:
		// The event names no client: its stream does (client-<id>).
		id, ok := strings.CutPrefix(r.Stream, client.StreamPrefix)
		if !ok || id == "" {
			return fmt.Errorf("revocations: %s at %d on stream %q: not a client stream", r.Type, r.Position, r.Stream)
		}
		add = append(add, Entry{Kind: KindClient, ID: id, Until: e.Until()})
	}
	now := s.now()
	s.mu.Lock()
	if track != nil && now.Before(track.ExpiresAt) {
		s.trackLocked(r.Position, *track, now)
	}
	for _, e := range add {
		e.Position = r.Position
		s.addLocked(e, now)
	}
	if r.Position > s.applied {
		s.applied = r.Position
	}
	s.applies++
	if s.applies%1024 == 0 {
		s.sweepLocked(now)
	}
	s.mu.Unlock()
	if len(add) > 0 || track != nil {
		s.changed.Notify()
	}
	return nil
}

func (s *Set) trackLocked(pos uint64, e token.IssuedEvent, now time.Time) {
	if until, ok := s.entries[KindFamily][e.FamilyID]; ok && now.Before(until) {
		// Minted while (or just before) its family was revoked.
		s.addLocked(Entry{Position: pos, Kind: KindJTI, ID: e.JTI, Until: e.ExpiresAt}, now)
		return
	}
	m := s.familyTokens[e.FamilyID]
	if m == nil {
		m = map[string]time.Time{}
		s.familyTokens[e.FamilyID] = m
	}
	m[e.JTI] = e.ExpiresAt
	s.tokenFamily[e.JTI] = e.FamilyID
}

func (s *Set) addLocked(e Entry, now time.Time) {
	if !now.Before(e.Until) {
		return
	}
	m := s.entries[e.Kind]
	old, had := m[e.ID]
	if had && !old.Before(e.Until) && e.Position == 0 {
		return
	}
	if !had || old.Before(e.Until) {
		m[e.ID] = e.Until
	}
	if e.Position > 0 {
		s.log = append(s.log, e)
	}
	if e.Kind == KindFamily {
		for jti, exp := range s.familyTokens[e.ID] {
			s.addLocked(Entry{Position: e.Position, Kind: KindJTI, ID: jti, Until: exp}, now)
		}
	}
}

// Add records a revocation learned outside the ledger feed (Redis pub/sub).
// The ledger feed brings the same entry later with its position.
func (s *Set) Add(e Entry) {
	e.Position = 0
	s.mu.Lock()
	s.addLocked(e, s.now())
	s.mu.Unlock()
	s.changed.Notify()
}

// Revoked reports whether a token with this jti and sid (either may be
// empty) is revoked at now.
func (s *Set) Revoked(jti, sid string, now time.Time) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if jti != "" {
		if until, ok := s.entries[KindJTI][jti]; ok && now.Before(until) {
			return true
		}
		if fam, ok := s.tokenFamily[jti]; ok {
			if until, ok := s.entries[KindFamily][fam]; ok && now.Before(until) {
				return true
			}
		}
	}
	if sid != "" {
		if until, ok := s.entries[KindSession][sid]; ok && now.Before(until) {
			return true
		}
	}
	return false
}

// IsRevoked is client/verifier's Revocation hook, at the set's clock.
// family may be empty; tokens minted from a family are also found by jti.
// A disabled client's tokens are found by IsClientRevoked (the verifier's
// ClientRevocation hook), since this signature carries no client id.
func (s *Set) IsRevoked(jti, sid, family string) bool {
	now := s.now()
	if family != "" && s.FamilyRevoked(family, now) {
		return true
	}
	return s.Revoked(jti, sid, now)
}

// IsClientRevoked reports whether clientID (a token's client_id) names a
// disabled client at the set's clock: every token naming it is revoked.
// It is client/verifier's ClientRevocation hook.
func (s *Set) IsClientRevoked(clientID string) bool {
	return s.ClientRevoked(clientID, s.now())
}

// ClientRevoked reports whether clientID is in the set at now.
func (s *Set) ClientRevoked(clientID string, now time.Time) bool {
	if clientID == "" {
		return false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	until, ok := s.entries[KindClient][clientID]
	return ok && now.Before(until)
}

// FamilyRevoked reports whether family is in the set at now.
func (s *Set) FamilyRevoked(family string, now time.Time) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	until, ok := s.entries[KindFamily][family]
	return ok && now.Before(until)
}

// PublishRevocation is commands.RevocationPublisher for an instance without
// Redis: the revocation enters this instance's set at once, so the
// instance that revoked refuses the token from its next request instead of
// after the feed delivers the event.
func (s *Set) PublishRevocation(_ context.Context, kind, id string, until time.Time) error {
	switch k := Kind(kind); k {
	case KindJTI, KindSession, KindFamily, KindClient:
		s.Add(Entry{Kind: k, ID: id, Until: until})
		return nil
	}
	return fmt.Errorf("revocations: unknown kind %q", kind)
}

// SweepEvery sweeps expired entries every d until ctx ends, because a quiet
// ledger never reaches Apply's periodic sweep.
func (s *Set) SweepEvery(ctx context.Context, d time.Duration) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Sweep()
		}
	}
}

// Sweep drops everything that has expired at now.
func (s *Set) Sweep() {
	s.mu.Lock()
	s.sweepLocked(s.now())
	s.mu.Unlock()
}

func (s *Set) sweepLocked(now time.Time) {
	for _, m := range s.entries {
		for id, until := range m {
			if !now.Before(until) {
				delete(m, id)
			}
		}
	}
	for fam, m := range s.familyTokens {
		for jti, exp := range m {
			if !now.Before(exp) {
				delete(m, jti)
				delete(s.tokenFamily, jti)
			}
		}
		if len(m) == 0 {
			delete(s.familyTokens, fam)
		}
	}
	kept := s.log[:0]
	for _, e := range s.log {
		if now.Before(e.Until) {
			kept = append(kept, e)
		}
	}
	clear(s.log[len(kept):])
	s.log = kept
}

// Len is the number of live entries of each kind (for metrics and tests).
func (s *Set) Len() map[Kind]int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return map[Kind]int{KindJTI: len(s.entries[KindJTI]), KindSession: len(s.entries[KindSession]), KindFamily: len(s.entries[KindFamily]), KindClient: len(s.entries[KindClient])}
}

// Page is one answer of the resource-server feed.
type Page struct {
	Entries []Entry `json:"entries"`
	// Cursor is the ledger position to ask after next time.
	Cursor uint64 `json:"cursor"`
}

// Since returns up to limit live entries with Position > after. If there
// are none and wait > 0 it waits (up to wait, or until ctx ends) for the
// next change, so a follower learns of a revocation within its round trip.
func (s *Set) Since(ctx context.Context, after uint64, limit int, wait time.Duration) Page {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		ch := s.changed.Wait()
		p := s.page(after, limit)
		if len(p.Entries) > 0 || wait <= 0 {
			return p
		}
		s.parked.Add(1)
		select {
		case <-ch:
			s.parked.Add(-1)
		case <-deadline.C:
			s.parked.Add(-1)
			return s.page(after, limit)
		case <-ctx.Done():
			s.parked.Add(-1)
			return p
		}
	}
}

// Parked is the number of Since calls waiting for a change now (for
// metrics and tests).
func (s *Set) Parked() int { return int(s.parked.Load()) }

func (s *Set) page(after uint64, limit int) Page {
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.now()
	i := sort.Search(len(s.log), func(i int) bool { return s.log[i].Position > after })
	p := Page{Entries: []Entry{}, Cursor: max(after, s.applied)}
	for ; i < len(s.log); i++ {
		e := s.log[i]
		// Never split one position's entries across pages: the cursor
		// is a position.
		if len(p.Entries) >= limit && e.Position != p.Entries[len(p.Entries)-1].Position {
			break
		}
		if now.Before(e.Until) {
			p.Entries = append(p.Entries, e)
		}
	}
	if i < len(s.log) {
		// More to come: resume right after the last entry returned.
		p.Cursor = p.Entries[len(p.Entries)-1].Position
	}
	return p
}

// Follow applies the ledger feed after the last position applied (0 at
// start: a memory projection rebuilds at every start) until ctx ends. It
// also sweeps expired entries once a minute.
func (s *Set) Follow(ctx context.Context, store eventstore.Store) error {
	go s.SweepEvery(ctx, time.Minute)
	return projections.Follow(ctx, store, s, s.Applied())
}

// Advance moves the applied position past a record the set does not
// handle (projections.Advancer).
func (s *Set) Advance(pos uint64) {
	s.mu.Lock()
	s.applied = max(s.applied, pos)
	s.mu.Unlock()
}

// Applied is the last ledger position folded.
func (s *Set) Applied() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.applied
}

// CatchUp applies every ledger record after the last one applied, then
// returns: for tests and for callers that must see their own writes.
func (s *Set) CatchUp(ctx context.Context, store eventstore.Store) error {
	_, err := projections.CatchUp(ctx, store, s, s.Applied())
	return err
}
