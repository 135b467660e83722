package sessions

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/domain/token"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/projections"
)

// TokensName is the session-token index; a new suffix rebuilds.
const TokensName = "session_tokens.v1"

// Tokens indexes live sessions by the hash of their current token, with
// the last use the ledger knows of (the session's start or step-up, or an
// access token minted from its cookie), so that a session the session
// store lost (a Redis restart without persistence) is found again from
// the ledger under the token the client still holds. Sessions started
// before the ledger recorded token hashes are not in it.
type Tokens struct{}

var _ projections.SQLProjection = Tokens{}

func (Tokens) Name() string { return TokensName }
func (Tokens) Handles() []string {
	return []string{session.TypeStarted, session.TypeElevated, session.TypeEnded, token.TypeIssued}
}
func (Tokens) Tables() []string { return []string{"session_tokens"} }

func (Tokens) Setup(ctx context.Context, tx *sql.Tx, t projections.Tables) error {
	for _, q := range []string{
		`CREATE TABLE ` + t.Name("session_tokens") + ` (
			session_id TEXT PRIMARY KEY, token_hash TEXT NOT NULL, last_seen BIGINT NOT NULL, expires_at BIGINT NOT NULL, position BIGINT NOT NULL)`,
		`CREATE UNIQUE INDEX ` + t.Index("session_tokens_hash") + ` ON ` + t.Name("session_tokens") + ` (token_hash)`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func (Tokens) Apply(ctx context.Context, tx *sql.Tx, t projections.Tables, r eventstore.Record) error {
	tbl := t.Name("session_tokens")
	pos := int64(r.Position)
	if r.Type == token.TypeIssued {
		e, err := token.Decode(r.Type, r.Data)
		if err != nil {
			return err
		}
		// Only an access token minted from the session cookie is a use of
		// the session; a refresh grant's (it names its family) is not.
		if iss, ok := e.(token.IssuedEvent); ok && iss.SessionID != "" && iss.FamilyID == "" {
			_, err = tx.ExecContext(ctx, `UPDATE `+tbl+` SET last_seen = $2, position = $3 WHERE session_id = $1 AND position < $3`,
				iss.SessionID, iss.IssuedAt.UnixMicro(), pos)
		}
		return err
	}
	e, err := session.Decode(r.Type, r.Data)
	if err != nil {
		return err
	}
	switch e := e.(type) {
	case session.Started:
		if e.TokenHash == "" {
			return nil
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO `+tbl+` (session_id, token_hash, last_seen, expires_at, position)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (session_id) DO NOTHING`,
			e.ID, e.TokenHash, e.At.UnixMicro(), e.ExpiresAt.UnixMicro(), pos)
	case session.Elevated:
		if e.TokenHash == "" {
			// The old token no longer names the session.
			_, err = tx.ExecContext(ctx, `DELETE FROM `+tbl+` WHERE session_id = $1 AND position < $2`, e.ID, pos)
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE `+tbl+` SET token_hash = $2, last_seen = $3, position = $4 WHERE session_id = $1 AND position < $4`,
			e.ID, e.TokenHash, e.At.UnixMicro(), pos)
	case session.Ended:
		_, err = tx.ExecContext(ctx, `DELETE FROM `+tbl+` WHERE session_id = $1`, e.ID)
	}
	return err
}

var tokensTable = projections.Live(TokensName).Name("session_tokens")

// TokenIndex answers the session store's misses from the session-token
// index (commands.SessionIndex).
type TokenIndex struct{ DB *sql.DB }

// SessionByTokenHash returns the session indexed under tokenHash and the
// last use the ledger knows of, or session.ErrNotFound.
func (x TokenIndex) SessionByTokenHash(ctx context.Context, tokenHash string) (string, time.Time, error) {
	var id string
	var seen int64
	err := x.DB.QueryRowContext(ctx, `SELECT session_id, last_seen FROM `+tokensTable+` WHERE token_hash = $1`, tokenHash).Scan(&id, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, session.ErrNotFound
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sessions: token index: %w", err)
	}
	return id, time.UnixMicro(seen).UTC(), nil
}
