// Package families is the refresh-family read model: one row per family
// with its state, generation, client and subject, folded from the
// family-<id> streams by the projection runner. Decisions never read it
// (the ledger decides); it answers operators and dashboards.
package families

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/projections"
)

// Name is the projection name; a new suffix rebuilds from position 1.
const Name = "refresh_families.v1"

// Projection folds refresh-family events into the families table.
type Projection struct{}

var _ projections.SQLProjection = Projection{}

func (Projection) Name() string { return Name }
func (Projection) Handles() []string {
	return []string{refreshtoken.TypeStarted, refreshtoken.TypeRotated, refreshtoken.TypeRevoked}
}
func (Projection) Tables() []string { return []string{"families"} }

func (Projection) Setup(ctx context.Context, tx *sql.Tx, t projections.Tables) error {
	for _, q := range []string{
		`CREATE TABLE ` + t.Name("families") + ` (
			id TEXT PRIMARY KEY, client_id TEXT NOT NULL, subject TEXT NOT NULL, session_id TEXT NOT NULL,
			generation BIGINT NOT NULL, state TEXT NOT NULL, reason TEXT NOT NULL,
			started_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, position BIGINT NOT NULL)`,
		`CREATE INDEX ` + t.Index("families_subject") + ` ON ` + t.Name("families") + ` (subject)`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func (Projection) Apply(ctx context.Context, tx *sql.Tx, t projections.Tables, r eventstore.Record) error {
	e, err := refreshtoken.Decode(r.Type, r.Data)
	if err != nil {
		return err
	}
	tbl := t.Name("families")
	switch e := e.(type) {
	case refreshtoken.Started:
		_, err = tx.ExecContext(ctx, `INSERT INTO `+tbl+` (id, client_id, subject, session_id, generation, state, reason, started_at, updated_at, expires_at, position)
			VALUES ($1, $2, $3, $4, 1, 'active', '', $5, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
			e.Family.String(), e.ClientID, e.Subject, e.SessionID, e.At.UnixMicro(), e.ExpiresAt.UnixMicro(), int64(r.Position))
	case refreshtoken.Rotated:
		// position guards make a re-applied event a no-op.
		_, err = tx.ExecContext(ctx, `UPDATE `+tbl+` SET generation = $2, updated_at = $3, expires_at = $4, position = $5 WHERE id = $1 AND position < $5`,
			e.Family.String(), int64(e.Generation), e.At.UnixMicro(), e.ExpiresAt.UnixMicro(), int64(r.Position))
	case refreshtoken.Revoked:
		_, err = tx.ExecContext(ctx, `UPDATE `+tbl+` SET state = 'revoked', reason = $2, updated_at = $3, position = $4 WHERE id = $1 AND position < $4`,
			e.Family.String(), e.Reason, e.At.UnixMicro(), int64(r.Position))
	}
	return err
}

// Family is one row.
type Family struct {
	ID         string    `json:"id"`
	ClientID   string    `json:"client_id"`
	Subject    string    `json:"subject"`
	SessionID  string    `json:"session_id,omitempty"`
	Generation uint64    `json:"generation"`
	State      string    `json:"state"` // active or revoked
	Reason     string    `json:"reason,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	ExpiresAt  time.Time `json:"expires_at"` // the current token's expiry
}

// ErrNotFound: no such family in the read model (yet).
var ErrNotFound = errors.New("families: not found")

var table = projections.Live(Name).Name("families")

const cols = `id, client_id, subject, session_id, generation, state, reason, started_at, updated_at, expires_at`

func scan(row interface{ Scan(...any) error }) (Family, error) {
	var f Family
	var gen, st, up, exp int64
	if err := row.Scan(&f.ID, &f.ClientID, &f.Subject, &f.SessionID, &gen, &f.State, &f.Reason, &st, &up, &exp); err != nil {
		return Family{}, err
	}
	f.Generation = uint64(gen)
	f.StartedAt, f.UpdatedAt, f.ExpiresAt = time.UnixMicro(st).UTC(), time.UnixMicro(up).UTC(), time.UnixMicro(exp).UTC()
	return f, nil
}

// Get reads one family.
func Get(ctx context.Context, db *sql.DB, id string) (Family, error) {
	f, err := scan(db.QueryRowContext(ctx, `SELECT `+cols+` FROM `+table+` WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Family{}, ErrNotFound
	}
	if err != nil {
		return Family{}, fmt.Errorf("families: get: %w", err)
	}
	return f, nil
}

// BySubject lists a subject's families, newest first.
func BySubject(ctx context.Context, db *sql.DB, subject string) ([]Family, error) {
	rows, err := db.QueryContext(ctx, `SELECT `+cols+` FROM `+table+` WHERE subject = $1 ORDER BY started_at DESC, id`, subject)
	if err != nil {
		return nil, fmt.Errorf("families: list: %w", err)
	}
	defer rows.Close()
	var out []Family
	for rows.Next() {
		f, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}
