package revocations

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/authledger/authledger/projections"
)

var (
	_ projections.Snapshotter = (*Set)(nil)
	_ projections.Resumable   = (*Set)(nil)
)

// snapshot is the set's state: only what has not expired, so its size is
// bounded by the live revocations and family tokens, not by the ledger.
type snapshot struct {
	Entries      map[Kind]map[string]time.Time   `json:"entries"`
	FamilyTokens map[string]map[string]time.Time `json:"family_tokens"`
	Log          []Entry                         `json:"log"`
}

// Snapshot returns the unexpired state and the position it covers.
func (s *Set) Snapshot() (uint64, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(s.now())
	b, err := json.Marshal(snapshot{Entries: s.entries, FamilyTokens: s.familyTokens, Log: s.log})
	return s.applied, b, err
}

// Restore replaces the state with a snapshot covering the ledger up to
// position, dropping what has expired since it was taken.
func (s *Set) Restore(position uint64, data []byte) error {
	var snap snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return fmt.Errorf("revocations: snapshot: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.entries {
		s.entries[k] = map[string]time.Time{}
		for id, until := range snap.Entries[k] {
			s.entries[k][id] = until
		}
	}
	s.familyTokens, s.tokenFamily = map[string]map[string]time.Time{}, map[string]string{}
	for fam, m := range snap.FamilyTokens {
		s.familyTokens[fam] = m
		for jti := range m {
			s.tokenFamily[jti] = fam
		}
	}
	s.log = snap.Log
	s.applied = position
	s.sweepLocked(s.now())
	return nil
}

// ResumeAt is where the runner feeds the set from: the last position it
// folded, by a snapshot and the start-up catch-up.
func (s *Set) ResumeAt() uint64 { return s.Applied() }
