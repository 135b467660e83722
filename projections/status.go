package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/authledger/authledger/eventstore"
)

// Status is one projection as stored in projection_state, with its lag
// against the ledger head. The CLI and the admin API read it while servers
// run, so nothing here comes from one process's memory.
type Status struct {
	Name          string    `json:"name"`
	Kind          string    `json:"kind"` // sql, memory
	State         string    `json:"state"`
	Checkpoint    uint64    `json:"checkpoint"`
	Head          uint64    `json:"head"`
	LagEvents     uint64    `json:"lag_events"`
	LagSeconds    float64   `json:"lag_seconds"`
	Error         string    `json:"error,omitempty"`
	ErrorPosition uint64    `json:"error_position,omitempty"`
	Generation    uint64    `json:"generation"`
	Owner         string    `json:"owner,omitempty"`
	Heartbeat     time.Time `json:"heartbeat,omitzero"`
	// Alive is false when the owner's heartbeat is older than OwnerTimeout.
	Alive bool `json:"alive"`
	// RebuildRequested is set from a request until the owner starts it.
	RebuildRequested bool      `json:"rebuild_requested,omitempty"`
	Rebuild          *Progress `json:"rebuild,omitempty"`
	RebuildError     string    `json:"rebuild_error,omitempty"`
}

// OwnerTimeout is how old an owner's heartbeat may be before status calls
// it dead (and the CLI rebuilds in process instead of waiting for it).
const OwnerTimeout = 5 * time.Second

// ReadStatus returns every projection in projection_state, by name.
func ReadStatus(ctx context.Context, db *DB, store eventstore.Store, now time.Time) ([]Status, error) {
	head, err := store.Head(ctx)
	if err != nil {
		return nil, fmt.Errorf("ledger head: %w", err)
	}
	return stateStore{db: db, now: func() time.Time { return now }}.statuses(ctx, head)
}

// Describe is the one-line human form of a status.
func (s Status) Describe() string {
	switch {
	case s.State == StateStopped:
		return fmt.Sprintf("stopped at position %d: %s", s.ErrorPosition, s.Error)
	case s.State == StateRetrying:
		return fmt.Sprintf("retrying%s (a storage fault; resumes by itself): %s", atPosition(s.ErrorPosition), s.Error)
	case s.Rebuild != nil && s.RebuildError != "":
		return fmt.Sprintf("%s; rebuild stopped at %d/%d: %s", s.State, s.Rebuild.Done, s.Rebuild.Total, s.RebuildError)
	case s.Rebuild != nil:
		return fmt.Sprintf("rebuilding %d/%d (%.0f events/s, ETA %s)", s.Rebuild.Done, s.Rebuild.Total, s.Rebuild.Rate, s.Rebuild.ETA.Round(time.Second))
	case s.RebuildRequested:
		return s.State + "; rebuild requested"
	}
	return s.State
}

// RequestRebuild records a rebuild request; the instance that owns the
// projection performs it within a heartbeat.
func RequestRebuild(ctx context.Context, db *DB, name string, now time.Time) error {
	return stateStore{db: db, now: func() time.Time { return now }}.requestRebuild(ctx, name)
}

// RequestResume asks the owner of a stopped projection to retry the event
// it stopped at (after a fix outside the code, e.g. a repaired database),
// and a failed rebuild to continue.
func RequestResume(ctx context.Context, db *DB, name string, now time.Time) error {
	return stateStore{db: db, now: func() time.Time { return now }}.requestResume(ctx, name)
}
