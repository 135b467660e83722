package projections

import (
	"context"
	"fmt"
	"time"

	"authledger/eventstore"
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
	rows, err := db.QueryContext(ctx, `SELECT name, kind, state, checkpoint, checkpoint_at, error, error_position, generation, owner, heartbeat_at,
		rebuild_requested, rebuild_generation, rebuild_checkpoint, rebuild_total, rebuild_rate, rebuild_error FROM projection_state ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("projection state: %w", err)
	}
	defer rows.Close()
	var out []Status
	for rows.Next() {
		var s Status
		var cpAt, hb, req, rgen, rdone, rtotal int64
		var rate float64
		if err := rows.Scan(&s.Name, &s.Kind, &s.State, &s.Checkpoint, &cpAt, &s.Error, &s.ErrorPosition, &s.Generation, &s.Owner, &hb,
			&req, &rgen, &rdone, &rtotal, &rate, &s.RebuildError); err != nil {
			return nil, err
		}
		s.Head = head.Position
		if head.Position > s.Checkpoint {
			s.LagEvents = head.Position - s.Checkpoint
			if cpAt > 0 {
				s.LagSeconds = max(0, head.RecordedAt.Sub(time.UnixMicro(cpAt)).Seconds())
			} else if !head.RecordedAt.IsZero() {
				s.LagSeconds = max(0, now.Sub(head.RecordedAt).Seconds())
			}
		}
		if hb > 0 {
			s.Heartbeat = time.UnixMicro(hb).UTC()
			s.Alive = s.Owner != "" && now.Sub(s.Heartbeat) < OwnerTimeout
		}
		s.RebuildRequested = req != 0
		if rgen > 0 {
			p := &Progress{Generation: uint64(rgen), Done: uint64(rdone), Total: uint64(max(rtotal, rdone)), Rate: rate}
			if p.Total < head.Position {
				p.Total = head.Position
			}
			if rate > 0 && p.Total > p.Done {
				p.ETA = time.Duration(float64(p.Total-p.Done) / rate * float64(time.Second))
			}
			s.Rebuild = p
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Describe is the one-line human form of a status.
func (s Status) Describe() string {
	switch {
	case s.State == StateStopped:
		return fmt.Sprintf("stopped at position %d: %s", s.ErrorPosition, s.Error)
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
	return request(ctx, db, name, "rebuild_requested", now)
}

// RequestResume asks the owner of a stopped projection to retry the event
// it stopped at (after a fix outside the code, e.g. a repaired database),
// and a failed rebuild to continue.
func RequestResume(ctx context.Context, db *DB, name string, now time.Time) error {
	return request(ctx, db, name, "resume_requested", now)
}

func request(ctx context.Context, db *DB, name, column string, now time.Time) error {
	res, err := db.ExecContext(ctx, `UPDATE projection_state SET `+column+` = $2 WHERE name = $1`, name, now.UnixMicro())
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %s", ErrUnknownProjection, name)
	}
	return nil
}
