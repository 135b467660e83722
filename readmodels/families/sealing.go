package families

import (
	"context"
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
	mu    sync.RWMutex
	until map[string]time.Time
}

var _ projections.MemoryProjection = (*SealingKeys)(nil)

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
	s.mu.Unlock()
	return nil
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
