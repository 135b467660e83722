package families

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/projections"
)

// SealingKeysName is the sealing-key projection's name.
const SealingKeysName = "refresh_sealing_keys.v1"

// SealingKeys is the set of refresh-token sealing key ids the ledger has
// used, each with the expiry of the last token sealed with it. It lets an
// instance tell a token sealed with a key it lacks (a server fault: the
// secret provider is missing a key the ledger names) from a forged one
// whose prefix merely names an unknown key, which a client may be told to
// throw away. It is a handful of entries whatever the ledger's length.
type SealingKeys struct {
	mu       sync.RWMutex
	until    map[string]time.Time
	position uint64
}

var (
	_ projections.MemoryProjection = (*SealingKeys)(nil)
	_ projections.Snapshotter      = (*SealingKeys)(nil)
	_ projections.Resumable        = (*SealingKeys)(nil)
	_ projections.Advancer         = (*SealingKeys)(nil)
)

// NewSealingKeys returns an empty set.
func NewSealingKeys() *SealingKeys { return &SealingKeys{until: map[string]time.Time{}} }

func (*SealingKeys) Name() string { return SealingKeysName }
func (*SealingKeys) Handles() []string {
	return []string{refreshtoken.TypeStarted, refreshtoken.TypeRotated}
}

func (s *SealingKeys) Apply(_ context.Context, r eventstore.Record) error {
	e, err := refreshtoken.Decode(r.Type, r.Data)
	if err != nil {
		return fmt.Errorf("%s: position %d: %w", SealingKeysName, r.Position, err)
	}
	var kid string
	var exp time.Time
	switch e := e.(type) {
	case refreshtoken.Started:
		kid, exp = e.KeyID, e.ExpiresAt
	case refreshtoken.Rotated:
		kid, exp = e.KeyID, e.ExpiresAt
	default:
		return nil
	}
	if kid == "" {
		return nil
	}
	s.mu.Lock()
	if exp.After(s.until[kid]) {
		s.until[kid] = exp
	}
	s.position = max(s.position, r.Position)
	s.mu.Unlock()
	return nil
}

// Advance notes a position folded without an event for the set.
func (s *SealingKeys) Advance(pos uint64) {
	s.mu.Lock()
	s.position = max(s.position, pos)
	s.mu.Unlock()
}

// Snapshot returns the key ids with their last expiry and the position
// they cover.
func (s *SealingKeys) Snapshot() (uint64, []byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, err := json.Marshal(s.until)
	return s.position, b, err
}

// Restore replaces the set with a snapshot covering the ledger up to
// position.
func (s *SealingKeys) Restore(position uint64, data []byte) error {
	until := map[string]time.Time{}
	if err := json.Unmarshal(data, &until); err != nil {
		return fmt.Errorf("%s: snapshot: %w", SealingKeysName, err)
	}
	s.mu.Lock()
	s.until, s.position = until, position
	s.mu.Unlock()
	return nil
}

// ResumeAt is where the runner feeds the set from.
func (s *SealingKeys) ResumeAt() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.position
}

// Live reports whether the ledger sealed a token with kid that has not
// expired at now.
func (s *SealingKeys) Live(kid string, now time.Time) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.until[kid]
	return ok && u.After(now)
}

// Needed lists, sorted, the key ids some unexpired token is sealed with.
func (s *SealingKeys) Needed(now time.Time) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for kid, u := range s.until {
		if u.After(now) {
			out = append(out, kid)
		}
	}
	sort.Strings(out)
	return out
}
