package sessions

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/projections"
)

// ActiveName is the active-sessions projection; a new suffix rebuilds.
const ActiveName = "active_sessions.v1"

// Active folds session events into the active-sessions table: started and
// not ended, by id and by subject. It is the ledger's view (no idle
// timeout: touches are not events); the Store is the live view.
type Active struct{}

var _ projections.SQLProjection = Active{}

func (Active) Name() string { return ActiveName }
func (Active) Handles() []string {
	return []string{session.TypeStarted, session.TypeElevated, session.TypeEnded}
}
func (Active) Tables() []string { return []string{"sessions"} }

func (Active) Setup(ctx context.Context, tx *sql.Tx, t projections.Tables) error {
	for _, q := range []string{
		`CREATE TABLE ` + t.Name("sessions") + ` (
			id TEXT PRIMARY KEY, subject TEXT NOT NULL, client_id TEXT NOT NULL, acr TEXT NOT NULL, family TEXT NOT NULL,
			auth_time BIGINT NOT NULL, started_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, position BIGINT NOT NULL)`,
		`CREATE INDEX ` + t.Index("sessions_subject") + ` ON ` + t.Name("sessions") + ` (subject)`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func (Active) Apply(ctx context.Context, tx *sql.Tx, t projections.Tables, r eventstore.Record) error {
	e, err := session.Decode(r.Type, r.Data)
	if err != nil {
		return err
	}
	tbl := t.Name("sessions")
	switch e := e.(type) {
	case session.Started:
		_, err = tx.ExecContext(ctx, `INSERT INTO `+tbl+` (id, subject, client_id, acr, family, auth_time, started_at, expires_at, position)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING`,
			e.ID, e.Subject, e.ClientID, e.ACR, e.Family, e.AuthTime.UnixMicro(), e.At.UnixMicro(), e.ExpiresAt.UnixMicro(), int64(r.Position))
	case session.Elevated:
		_, err = tx.ExecContext(ctx, `UPDATE `+tbl+` SET acr = $2, auth_time = $3, position = $4 WHERE id = $1 AND position < $4`,
			e.ID, e.ACR, e.AuthTime.UnixMicro(), int64(r.Position))
	case session.Ended:
		_, err = tx.ExecContext(ctx, `DELETE FROM `+tbl+` WHERE id = $1`, e.ID)
	}
	return err
}

// ActiveSession is one row of the active-sessions read model.
type ActiveSession struct {
	ID        string    `json:"id"`
	Subject   string    `json:"subject"`
	ClientID  string    `json:"client_id"`
	ACR       string    `json:"acr,omitempty"`
	Family    string    `json:"family,omitempty"`
	AuthTime  time.Time `json:"auth_time"`
	StartedAt time.Time `json:"started_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

var activeTable = projections.Live(ActiveName).Name("sessions")

const activeCols = `id, subject, client_id, acr, family, auth_time, started_at, expires_at`

func scanActive(row interface{ Scan(...any) error }) (ActiveSession, error) {
	var s ActiveSession
	var at, st, exp int64
	if err := row.Scan(&s.ID, &s.Subject, &s.ClientID, &s.ACR, &s.Family, &at, &st, &exp); err != nil {
		return ActiveSession{}, err
	}
	s.AuthTime, s.StartedAt, s.ExpiresAt = time.UnixMicro(at).UTC(), time.UnixMicro(st).UTC(), time.UnixMicro(exp).UTC()
	return s, nil
}

// ActiveByID reads one session that is started, not ended and not past its
// absolute expiry at now.
func ActiveByID(ctx context.Context, db *sql.DB, id string, now time.Time) (ActiveSession, error) {
	s, err := scanActive(db.QueryRowContext(ctx, `SELECT `+activeCols+` FROM `+activeTable+` WHERE id = $1 AND expires_at > $2`, id, now.UnixMicro()))
	if errors.Is(err, sql.ErrNoRows) {
		return ActiveSession{}, session.ErrNotFound
	}
	if err != nil {
		return ActiveSession{}, fmt.Errorf("sessions: read model: %w", err)
	}
	return s, nil
}

// ActiveBySubject lists a subject's active sessions at now, oldest first.
func ActiveBySubject(ctx context.Context, db *sql.DB, subject string, now time.Time) ([]ActiveSession, error) {
	rows, err := db.QueryContext(ctx, `SELECT `+activeCols+` FROM `+activeTable+` WHERE subject = $1 AND expires_at > $2 ORDER BY started_at, id`, subject, now.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("sessions: read model: %w", err)
	}
	defer rows.Close()
	var out []ActiveSession
	for rows.Next() {
		s, err := scanActive(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
