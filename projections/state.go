package projections

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/authledger/authledger/eventstore"
)

// stateMigration creates projection_state, the one place every instance
// and the CLI read a projection's progress from. Times are Unix
// microseconds so both engines store them the same way. It is the first
// entry of migrations (db.go); never edit it, append a migration.
const stateMigration = `CREATE TABLE IF NOT EXISTS projection_state (
		name               TEXT PRIMARY KEY,
		kind               TEXT NOT NULL,
		checkpoint         BIGINT NOT NULL DEFAULT 0,
		checkpoint_at      BIGINT NOT NULL DEFAULT 0,
		generation         BIGINT NOT NULL DEFAULT 0,
		state              TEXT NOT NULL DEFAULT 'waiting',
		error              TEXT NOT NULL DEFAULT '',
		error_position     BIGINT NOT NULL DEFAULT 0,
		owner              TEXT NOT NULL DEFAULT '',
		heartbeat_at       BIGINT NOT NULL DEFAULT 0,
		rebuild_requested  BIGINT NOT NULL DEFAULT 0,
		resume_requested   BIGINT NOT NULL DEFAULT 0,
		rebuild_generation BIGINT NOT NULL DEFAULT 0,
		rebuild_checkpoint BIGINT NOT NULL DEFAULT 0,
		rebuild_total      BIGINT NOT NULL DEFAULT 0,
		rebuild_started_at BIGINT NOT NULL DEFAULT 0,
		rebuild_rate       DOUBLE PRECISION NOT NULL DEFAULT 0,
		rebuild_error      TEXT NOT NULL DEFAULT '',
		updated_at         BIGINT NOT NULL DEFAULT 0
	)`

// stateStore owns projection_state: every statement that reads or writes
// the table is a method here, so the columns' meaning lives in one file.
// Methods taking an execer run in the caller's transaction (the rows'
// transaction for a checkpoint, the swap's for a rebuild).
type stateStore struct {
	db  *DB
	now func() time.Time
}

// storedState is the part of a row a worker loads when it takes over.
type storedState struct {
	checkpoint, generation uint64
	state, err             string
	errPos                 uint64
}

// ensure creates the row of a projection that has none yet.
func (s stateStore) ensure(ctx context.Context, name string, k kind) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO projection_state (name, kind, state, updated_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING`, name, string(k), StateWaiting, s.micros()); err != nil {
		return fmt.Errorf("projection state: %w", err)
	}
	return nil
}

// load reads the row a new owner continues from.
func (s stateStore) load(ctx context.Context, name string) (storedState, error) {
	var st storedState
	if err := s.db.QueryRowContext(ctx, `SELECT checkpoint, generation, state, error, error_position FROM projection_state WHERE name = $1`, name).
		Scan(&st.checkpoint, &st.generation, &st.state, &st.err, &st.errPos); err != nil {
		return st, fmt.Errorf("projection state: %w", err)
	}
	return st, nil
}

// checkpoint reads the stored checkpoint (a waiter on an instance that
// does not own the projection polls it).
func (s stateStore) checkpoint(ctx context.Context, name string) (uint64, error) {
	var cp uint64
	err := s.db.QueryRowContext(ctx, `SELECT checkpoint FROM projection_state WHERE name = $1`, name).Scan(&cp)
	return cp, err
}

// firstGeneration records, in the transaction that created its tables,
// that generation gen is live and empty.
func (s stateStore) firstGeneration(ctx context.Context, tx execer, name string, gen uint64) error {
	_, err := tx.ExecContext(ctx, `UPDATE projection_state SET generation = $2, checkpoint = 0 WHERE name = $1`, name, gen)
	return err
}

// running marks the projection running on instance and clears a stop
// and a pending resume request (a restart retries the stopped event).
func (s stateStore) running(ctx context.Context, name, instance string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE projection_state SET state = $2, error = '', error_position = 0, owner = $3, heartbeat_at = $4, updated_at = $4, resume_requested = 0 WHERE name = $1`,
		name, StateRunning, instance, s.micros())
	return err
}

// advance moves the stored checkpoint to rec in tx, the transaction that
// also holds the rows rec produced, if the checkpoint is below first; it
// reports whether it moved (false: the record at first was applied before,
// by a rebuild swap or a previous owner). It also clears a stop.
func (s stateStore) advance(ctx context.Context, tx execer, name string, first uint64, rec eventstore.Record) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE projection_state SET checkpoint = $2, checkpoint_at = $3, state = $4, error = '', error_position = 0, updated_at = $5 WHERE name = $1 AND checkpoint < $6`,
		name, rec.Position, rec.RecordedAt.UnixMicro(), StateRunning, s.micros(), first)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// stop records that the projection stopped at the poisoned record at pos.
func (s stateStore) stop(ctx context.Context, name, text string, pos uint64) error {
	return s.setState(ctx, name, StateStopped, text, pos)
}

// setState writes the owner's view of its state (stopped or retrying at
// pos with text; running clears them), outside any checkpoint
// transaction.
func (s stateStore) setState(ctx context.Context, name, state, text string, pos uint64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE projection_state SET state = $2, error = $3, error_position = $4, updated_at = $5 WHERE name = $1`,
		name, state, text, pos, s.micros())
	return err
}

// requests is what an owner's heartbeat picks up.
type requests struct {
	rebuild, resume, rebuildGen uint64
}

// liveState is the owner's state as its heartbeat writes it.
type liveState struct {
	state, err string
	pos        uint64
}

// heartbeat refreshes instance's ownership and its state (so a stop or a
// retry that could not be written while the database was away is written
// once it answers: status and /readyz read the same state), and returns
// the pending requests. With takeover false (a SQLite lease) it never
// takes the owner column back from an instance that took the lease over.
func (s stateStore) heartbeat(ctx context.Context, name, instance string, takeover bool, live liveState) (requests, error) {
	var q requests
	force := 0
	if takeover {
		force = 1
	}
	err := s.db.QueryRowContext(ctx, `UPDATE projection_state SET owner = $2, heartbeat_at = $3, state = $5, error = $6, error_position = $7
		WHERE name = $1 AND (owner = $2 OR owner = '' OR $4 = 1)
		RETURNING rebuild_requested, resume_requested, rebuild_generation`, name, instance, s.micros(), force, live.state, live.err, live.pos).Scan(&q.rebuild, &q.resume, &q.rebuildGen)
	return q, err
}

// resumeTaken clears a resume request the owner acted on.
func (s stateStore) resumeTaken(ctx context.Context, name string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE projection_state SET resume_requested = 0 WHERE name = $1`, name)
	return err
}

// requestRebuild and requestResume record an operator's request for the
// owner to pick up; ErrUnknownProjection when no row has name.
func (s stateStore) requestRebuild(ctx context.Context, name string) error {
	return s.request(ctx, name, "rebuild_requested")
}

func (s stateStore) requestResume(ctx context.Context, name string) error {
	return s.request(ctx, name, "resume_requested")
}

func (s stateStore) request(ctx context.Context, name, column string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE projection_state SET `+column+` = $2 WHERE name = $1`, name, s.micros())
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %s", ErrUnknownProjection, name)
	}
	return nil
}

// takeLease makes instance the owner on SQLite when the row is free, its
// own, or its owner's heartbeat is older than stale.
func (s stateStore) takeLease(ctx context.Context, name, instance string, stale time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE projection_state SET owner = $2, heartbeat_at = $3
		WHERE name = $1 AND (owner = $2 OR owner = '' OR heartbeat_at < $4)`, name, instance, s.micros(), stale.UnixMicro())
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// renewLease refreshes instance's lease; false when another took it.
func (s stateStore) renewLease(ctx context.Context, name, instance string) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE projection_state SET heartbeat_at = $3 WHERE name = $1 AND owner = $2`, name, instance, s.micros())
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// releaseLease gives up instance's lease, if it still holds it.
func (s stateStore) releaseLease(ctx context.Context, name, instance string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE projection_state SET owner = '', heartbeat_at = 0 WHERE name = $1 AND owner = $2`, name, instance)
	return err
}

// memoryRow is what an instance reports of its own copy of a memory
// projection (never a checkpoint to resume from).
type memoryRow struct {
	checkpoint   uint64
	checkpointAt time.Time
	state, err   string
	errPos       uint64
}

// recordMemory writes instance's view of a memory projection.
func (s stateStore) recordMemory(ctx context.Context, name, instance string, m memoryRow) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO projection_state (name, kind, checkpoint, checkpoint_at, state, error, error_position, owner, heartbeat_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
		ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, checkpoint = excluded.checkpoint, checkpoint_at = excluded.checkpoint_at, state = excluded.state,
		error = excluded.error, error_position = excluded.error_position, owner = excluded.owner, heartbeat_at = excluded.heartbeat_at, updated_at = excluded.updated_at`,
		name, string(kindMemory), m.checkpoint, microsOrZero(m.checkpointAt), m.state, m.err, m.errPos, instance, s.micros())
	return err
}

// rebuildRow is where a rebuild stands in the row.
type rebuildRow struct {
	liveGen, gen, done uint64
}

// rebuildState reads the live generation and any rebuild in progress.
func (s stateStore) rebuildState(ctx context.Context, name string) (rebuildRow, error) {
	var r rebuildRow
	var started uint64
	err := s.db.QueryRowContext(ctx, `SELECT generation, rebuild_generation, rebuild_checkpoint, rebuild_started_at FROM projection_state WHERE name = $1`, name).
		Scan(&r.liveGen, &r.gen, &r.done, &started)
	return r, err
}

// rebuildStarted records, in the transaction that created the shadow
// tables, that generation gen is being built from position 1.
func (s stateStore) rebuildStarted(ctx context.Context, tx execer, name string, gen uint64) error {
	_, err := tx.ExecContext(ctx, `UPDATE projection_state SET rebuild_generation = $2, rebuild_checkpoint = 0, rebuild_requested = 0,
		rebuild_started_at = $3, rebuild_error = '', rebuild_total = 0, rebuild_rate = 0 WHERE name = $1`, name, gen, s.micros())
	return err
}

// rebuildContinued clears the request and the last error of a rebuild
// that picks up where a crash or failure left it.
func (s stateStore) rebuildContinued(ctx context.Context, name string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE projection_state SET rebuild_requested = 0, rebuild_error = '' WHERE name = $1`, name)
	return err
}

// rebuildProgress stores, in the transaction of the shadow rows, how far
// the rebuild got.
func (s stateStore) rebuildProgress(ctx context.Context, tx execer, name string, done, total uint64, rate float64) error {
	_, err := tx.ExecContext(ctx, `UPDATE projection_state SET rebuild_checkpoint = $2, rebuild_total = $3, rebuild_rate = $4 WHERE name = $1`,
		name, done, total, rate)
	return err
}

// swapped records, in the transaction that renamed the shadow tables,
// that generation gen is live at checkpoint done.
func (s stateStore) swapped(ctx context.Context, tx execer, name string, gen, done uint64, lastAt time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE projection_state SET generation = $2, checkpoint = $3, checkpoint_at = CASE WHEN $4 > checkpoint_at THEN $4 ELSE checkpoint_at END,
		rebuild_generation = 0, rebuild_checkpoint = 0, rebuild_total = 0, rebuild_started_at = 0, rebuild_rate = 0, rebuild_error = '', updated_at = $5 WHERE name = $1`,
		name, gen, done, microsOrZero(lastAt), s.micros())
	return err
}

// rebuildFailed records why a rebuild stopped.
func (s stateStore) rebuildFailed(ctx context.Context, name, text string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE projection_state SET rebuild_error = $2 WHERE name = $1`, name, text)
	return err
}

// stoppedRow is a projection stopped at a poisoned event, or retrying a
// storage fault at one.
type stoppedRow struct {
	name, state, err string
	pos              uint64
}

// stopped lists the projections stopped or retrying on any instance.
func (s stateStore) stopped(ctx context.Context) ([]stoppedRow, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, state, error, error_position FROM projection_state WHERE state IN ($1, $2)`, StateStopped, StateRetrying)
	if err != nil {
		return nil, fmt.Errorf("projection state: %w", err)
	}
	defer rows.Close()
	var out []stoppedRow
	for rows.Next() {
		var r stoppedRow
		if err := rows.Scan(&r.name, &r.state, &r.err, &r.pos); err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// statuses reads every row as a Status against the ledger head.
func (s stateStore) statuses(ctx context.Context, head eventstore.Head) ([]Status, error) {
	now := s.now()
	rows, err := s.db.QueryContext(ctx, `SELECT name, kind, state, checkpoint, checkpoint_at, error, error_position, generation, owner, heartbeat_at,
		rebuild_requested, rebuild_generation, rebuild_checkpoint, rebuild_total, rebuild_rate, rebuild_error FROM projection_state ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("projection state: %w", err)
	}
	defer rows.Close()
	var out []Status
	for rows.Next() {
		var st Status
		var cpAt, hb, req, rgen, rdone, rtotal int64
		var rate float64
		if err := rows.Scan(&st.Name, &st.Kind, &st.State, &st.Checkpoint, &cpAt, &st.Error, &st.ErrorPosition, &st.Generation, &st.Owner, &hb,
			&req, &rgen, &rdone, &rtotal, &rate, &st.RebuildError); err != nil {
			return nil, err
		}
		st.Head = head.Position
		if head.Position > st.Checkpoint {
			st.LagEvents = head.Position - st.Checkpoint
			if cpAt > 0 {
				st.LagSeconds = max(0, head.RecordedAt.Sub(time.UnixMicro(cpAt)).Seconds())
			} else if !head.RecordedAt.IsZero() {
				st.LagSeconds = max(0, now.Sub(head.RecordedAt).Seconds())
			}
		}
		if hb > 0 {
			st.Heartbeat = time.UnixMicro(hb).UTC()
			st.Alive = st.Owner != "" && now.Sub(st.Heartbeat) < OwnerTimeout
		}
		st.RebuildRequested = req != 0
		if rgen > 0 {
			p := &Progress{Generation: uint64(rgen), Done: uint64(rdone), Total: uint64(max(rtotal, rdone)), Rate: rate}
			if p.Total < head.Position {
				p.Total = head.Position
			}
			if rate > 0 && p.Total > p.Done {
				p.ETA = time.Duration(float64(p.Total-p.Done) / rate * float64(time.Second))
			}
			st.Rebuild = p
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

func (s stateStore) micros() int64 { return s.now().UnixMicro() }

func microsOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// execer is a *sql.Tx or *sql.DB.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}
