package projections

// Snapshots of memory projections, so start-up does not replay the whole
// ledger: a snapshot store in the read-model database, a load step before
// the runner starts, and a save step the composition root runs as a
// background task. The runner itself only learns where to feed a model
// from (Resumable) and hands it the positions it skips (Advancer).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/authledger/authledger/eventstore"
)

// Resumable is a MemoryProjection whose state was loaded before the runner
// started (from a snapshot plus a catch-up, or from its own streams): the
// runner feeds it from ResumeAt rather than from position 0, so the time to
// catch up does not grow with the ledger.
type Resumable interface {
	ResumeAt() uint64
}

// Snapshotter is a MemoryProjection that can write its state as of a
// ledger position and load it back.
type Snapshotter interface {
	MemoryProjection
	// Snapshot returns the state and the ledger position it covers (every
	// record up to it folded, none after), taken atomically.
	Snapshot() (position uint64, data []byte, err error)
	// Restore replaces the state with data, which covers the ledger up to
	// position. It is called before the runner starts.
	Restore(position uint64, data []byte) error
}

// SnapshotStore keeps one snapshot per memory projection in the
// read-model database. A snapshot names the hash of the record at its
// position, so one taken on another ledger (a restore from backup, a
// mistyped AUTHLEDGER_STORE) is never loaded.
type SnapshotStore struct {
	db *DB
}

const snapshotTable = "memory_snapshots"

// NewSnapshotStore opens the store, creating its table if needed.
func NewSnapshotStore(ctx context.Context, db *DB) (*SnapshotStore, error) {
	blob := "BLOB"
	if db.Dialect == Postgres {
		blob = "BYTEA"
	}
	_, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+snapshotTable+` (
		name TEXT PRIMARY KEY, position BIGINT NOT NULL, hash TEXT NOT NULL, data `+blob+` NOT NULL, taken_at BIGINT NOT NULL)`)
	if err != nil {
		return nil, fmt.Errorf("projections: snapshot store: %w", err)
	}
	return &SnapshotStore{db: db}, nil
}

// Save stores p's snapshot, replacing the previous one. A snapshot at
// position 0 (nothing folded) is not worth storing.
func (s *SnapshotStore) Save(ctx context.Context, store eventstore.Store, p Snapshotter) error {
	pos, data, err := p.Snapshot()
	if err != nil || pos == 0 {
		return err
	}
	recs, err := store.ReadAll(ctx, pos-1, 1)
	if err != nil {
		return fmt.Errorf("projections: snapshot %s: %w", p.Name(), err)
	}
	if len(recs) == 0 || recs[0].Position != pos {
		return fmt.Errorf("projections: snapshot %s: the ledger has no position %d", p.Name(), pos)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO `+snapshotTable+` (name, position, hash, data, taken_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (name) DO UPDATE SET position = excluded.position, hash = excluded.hash, data = excluded.data, taken_at = excluded.taken_at`,
		p.Name(), int64(pos), recs[0].Hash, data, time.Now().UnixMicro())
	if err != nil {
		return fmt.Errorf("projections: snapshot %s: %w", p.Name(), err)
	}
	return nil
}

// ErrForeignSnapshot: the stored snapshot does not match this ledger.
var ErrForeignSnapshot = errors.New("projections: snapshot taken on another ledger")

// Load restores p from its stored snapshot and reports the position it
// covers; ok is false when there is none (p is unchanged: fold from 0).
// A snapshot whose position the ledger does not hold, or holds with
// another hash, is ErrForeignSnapshot and p is unchanged.
func (s *SnapshotStore) Load(ctx context.Context, store eventstore.Store, p Snapshotter) (position uint64, ok bool, err error) {
	var pos int64
	var hash string
	var data []byte
	err = s.db.QueryRowContext(ctx, `SELECT position, hash, data FROM `+snapshotTable+` WHERE name = $1`, p.Name()).Scan(&pos, &hash, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("projections: snapshot %s: %w", p.Name(), err)
	}
	recs, err := store.ReadAll(ctx, uint64(pos)-1, 1)
	if err != nil {
		return 0, false, fmt.Errorf("projections: snapshot %s: %w", p.Name(), err)
	}
	if len(recs) == 0 || recs[0].Position != uint64(pos) || recs[0].Hash != hash {
		return 0, false, fmt.Errorf("%w: %s at position %d", ErrForeignSnapshot, p.Name(), pos)
	}
	if err := p.Restore(uint64(pos), data); err != nil {
		return 0, false, fmt.Errorf("projections: snapshot %s: %w", p.Name(), err)
	}
	return uint64(pos), true, nil
}

// SaveEvery saves every p's snapshot each period and once more when ctx
// ends (a clean stop leaves the freshest one for the next start). A failed
// save is returned through report and retried next period: snapshots only
// speed start-up up.
func (s *SnapshotStore) SaveEvery(ctx context.Context, store eventstore.Store, period time.Duration, report func(name string, err error), ps ...Snapshotter) {
	save := func(ctx context.Context) {
		for _, p := range ps {
			if err := s.Save(ctx, store, p); err != nil && report != nil {
				report(p.Name(), err)
			}
		}
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			save(final)
			cancel()
			return
		case <-t.C:
			save(ctx)
		}
	}
}
