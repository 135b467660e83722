package services

import (
	"encoding/json"
	"fmt"

	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/projections"
)

var (
	_ projections.Snapshotter = (*Registry)(nil)
	_ projections.Resumable   = (*Registry)(nil)
)

// snapshotView is a view with its secrets' hashes, which a View's JSON
// leaves out on purpose (it is what the admin API answers).
type snapshotView struct {
	View   client.View `json:"view"`
	Hashes []string    `json:"hashes"`
}

// Snapshot returns every client's view and the position it covers.
func (r *Registry) Snapshot() (uint64, []byte, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]snapshotView, 0, len(r.clients))
	for _, v := range r.clients {
		hs := make([]string, len(v.Secrets))
		for i, s := range v.Secrets {
			hs[i] = s.Hash
		}
		out = append(out, snapshotView{View: *v, Hashes: hs})
	}
	b, err := json.Marshal(out)
	return r.position, b, err
}

// Restore replaces the registry with a snapshot covering the ledger up to
// position.
func (r *Registry) Restore(position uint64, data []byte) error {
	var in []snapshotView
	if err := json.Unmarshal(data, &in); err != nil {
		return fmt.Errorf("services: snapshot: %w", err)
	}
	clients := make(map[client.ID]*client.View, len(in))
	for _, sv := range in {
		if len(sv.Hashes) != len(sv.View.Secrets) {
			return fmt.Errorf("services: snapshot: client %s: %d secrets, %d hashes", sv.View.ID, len(sv.View.Secrets), len(sv.Hashes))
		}
		v := sv.View
		for i := range v.Secrets {
			v.Secrets[i].Hash = sv.Hashes[i]
		}
		clients[v.ID] = &v
	}
	r.mu.Lock()
	r.clients, r.position = clients, position
	r.mu.Unlock()
	r.advanced.Notify()
	return nil
}

// ResumeAt is where the runner feeds the registry from.
func (r *Registry) ResumeAt() uint64 { return r.Position() }
