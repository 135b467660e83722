// Package passkeys holds the passkey read model: the SQL projection
// Credentials folds passkey events into one row per live credential (its
// subject, name, counter, last use), for the account page and operators.
// Sign-in never reads it: the write side decides on the subject's ledger
// stream (domain/passkey), so a removal takes effect at once.
package passkeys

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/authledger/authledger/domain/passkey"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/projections"
)

// Name is the projection; a new suffix rebuilds from position 1.
const Name = "passkeys.v1"

// Credentials folds passkey events into the credentials table.
type Credentials struct{}

var _ projections.SQLProjection = Credentials{}

func (Credentials) Name() string { return Name }
func (Credentials) Handles() []string {
	return []string{passkey.TypeRegistered, passkey.TypeUsed, passkey.TypeRenamed, passkey.TypeRemoved}
}
func (Credentials) Tables() []string { return []string{"credentials"} }

func (Credentials) Setup(ctx context.Context, tx *sql.Tx, t projections.Tables) error {
	for _, q := range []string{
		`CREATE TABLE ` + t.Name("credentials") + ` (
			credential TEXT PRIMARY KEY, subject TEXT NOT NULL, name TEXT NOT NULL, sign_count BIGINT NOT NULL,
			aaguid TEXT NOT NULL, via TEXT NOT NULL, registered_at BIGINT NOT NULL, last_used BIGINT NOT NULL, position BIGINT NOT NULL)`,
		`CREATE INDEX ` + t.Index("credentials_subject") + ` ON ` + t.Name("credentials") + ` (subject)`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// Apply is idempotent: a row remembers the position that last changed it,
// and an update at or before that position changes nothing.
func (Credentials) Apply(ctx context.Context, tx *sql.Tx, t projections.Tables, r eventstore.Record) error {
	e, err := passkey.Decode(r.Type, r.Data)
	if err != nil {
		return err
	}
	tbl, pos := t.Name("credentials"), int64(r.Position)
	switch e := e.(type) {
	case passkey.Registered:
		_, err = tx.ExecContext(ctx, `INSERT INTO `+tbl+` (credential, subject, name, sign_count, aaguid, via, registered_at, last_used, position)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8) ON CONFLICT (credential) DO NOTHING`,
			e.Credential, e.Subject, e.Name, int64(e.SignCount), e.AAGUID, e.Via, e.At.UnixMicro(), pos)
	case passkey.Used:
		_, err = tx.ExecContext(ctx, `UPDATE `+tbl+` SET sign_count = $2, last_used = $3, position = $4 WHERE credential = $1 AND subject = $5 AND position < $4`,
			e.Credential, int64(e.SignCount), e.At.UnixMicro(), pos, e.Subject)
	case passkey.Renamed:
		_, err = tx.ExecContext(ctx, `UPDATE `+tbl+` SET name = $2, position = $3 WHERE credential = $1 AND subject = $4 AND position < $3`,
			e.Credential, e.Name, pos, e.Subject)
	case passkey.Removed:
		_, err = tx.ExecContext(ctx, `DELETE FROM `+tbl+` WHERE credential = $1 AND subject = $2 AND position < $3`, e.Credential, e.Subject, pos)
	}
	return err
}

// Credential is one row of the read model.
type Credential struct {
	ID           string    `json:"id"`
	Subject      string    `json:"subject"`
	Name         string    `json:"name"`
	SignCount    uint32    `json:"sign_count"`
	AAGUID       string    `json:"aaguid,omitempty"`
	Via          string    `json:"via"`
	RegisteredAt time.Time `json:"registered_at"`
	LastUsed     time.Time `json:"last_used,omitzero"`
}

var liveTable = projections.Live(Name).Name("credentials")

// BySubject lists a subject's passkeys, oldest first.
func BySubject(ctx context.Context, db *sql.DB, subject string) ([]Credential, error) {
	rows, err := db.QueryContext(ctx, `SELECT credential, subject, name, sign_count, aaguid, via, registered_at, last_used FROM `+liveTable+
		` WHERE subject = $1 ORDER BY registered_at, credential`, subject)
	if err != nil {
		return nil, fmt.Errorf("passkeys: read model: %w", err)
	}
	defer rows.Close()
	var out []Credential
	for rows.Next() {
		var c Credential
		var count, reg, used int64
		if err := rows.Scan(&c.ID, &c.Subject, &c.Name, &count, &c.AAGUID, &c.Via, &reg, &used); err != nil {
			return nil, err
		}
		c.SignCount, c.RegisteredAt = uint32(count), time.UnixMicro(reg).UTC()
		if used != 0 {
			c.LastUsed = time.UnixMicro(used).UTC()
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
