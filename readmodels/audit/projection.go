package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/authledger/authledger/domain/checkpoint"
	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/domain/token"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/projections"
	"github.com/authledger/authledger/queries"
)

// Name is the audit projection; a new suffix rebuilds from position 1.
const Name = "audit.v1"

// Projection folds every ledger event it knows into one entry of the
// entries table, keyed by position.
type Projection struct{}

var _ projections.SQLProjection = Projection{}

func (Projection) Name() string      { return Name }
func (Projection) Handles() []string { return slices.Clone(Types) }
func (Projection) Tables() []string  { return []string{"entries", "checkpoints", "contexts"} }

// filterColumns are the columns a query filters by: each gets an index
// ending in position, so a filtered page is one index range scan.
var filterColumns = []string{"subject", "actor", "client_id", "session_id", "family", "type", "jti"}

func (Projection) Setup(ctx context.Context, tx *sql.Tx, t projections.Tables) error {
	tbl := t.Name("entries")
	qs := []string{`CREATE TABLE ` + tbl + ` (
		position BIGINT PRIMARY KEY, stream TEXT NOT NULL, type TEXT NOT NULL, summary TEXT NOT NULL,
		subject TEXT NOT NULL, actor TEXT NOT NULL, client_id TEXT NOT NULL, session_id TEXT NOT NULL,
		family TEXT NOT NULL, jti TEXT NOT NULL, kid TEXT NOT NULL, recorded_at BIGINT NOT NULL, hash TEXT NOT NULL)`,
		`CREATE INDEX ` + t.Index("entries_recorded_at") + ` ON ` + tbl + ` (recorded_at, position)`,
		// One row per signed checkpoint, by the position it signed.
		`CREATE TABLE ` + t.Name("checkpoints") + ` (signed_position BIGINT NOT NULL, hash TEXT NOT NULL, jws TEXT NOT NULL,
			at BIGINT NOT NULL, position BIGINT PRIMARY KEY)`,
		`CREATE INDEX ` + t.Index("checkpoints_signed") + ` ON ` + t.Name("checkpoints") + ` (signed_position, position)`,
		// What a family, session or token was started with, by
		// "family:<id>", "session:<id>" or "jti:<id>": one point read per
		// event that inherits it, whatever the planner makes of the
		// entries indexes.
		`CREATE TABLE ` + t.Name("contexts") + ` (key TEXT PRIMARY KEY, subject TEXT NOT NULL, client_id TEXT NOT NULL,
			session_id TEXT NOT NULL, family TEXT NOT NULL)`,
	}
	for _, c := range filterColumns {
		qs = append(qs, `CREATE INDEX `+t.Index("entries_"+c)+` ON `+tbl+` (`+c+`, position)`)
	}
	for _, q := range qs {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func (Projection) Apply(ctx context.Context, tx *sql.Tx, t projections.Tables, r eventstore.Record) error {
	e, lk, err := describe(r)
	if err != nil {
		return err
	}
	tbl := t.Name("entries")
	if lk != nil && lk.value != "" {
		if err := inherit(ctx, tx, t.Name("contexts"), lk, &e); err != nil {
			return err
		}
	}
	if key := startsContext(r.Type, e); key != "" {
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+t.Name("contexts")+` (key, subject, client_id, session_id, family)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING`, key, e.Subject, e.Client, e.Session, e.Family); err != nil {
			return err
		}
	}
	if r.Type == checkpoint.TypeSigned {
		if err := keepCheckpoint(ctx, tx, t, r); err != nil {
			return err
		}
	}
	if r.Type == refreshtoken.TypeReuseDetected && e.Session != "" {
		e.Summary += ", session ended"
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO `+tbl+` (position, stream, type, summary, subject, actor, client_id, session_id, family, jti, kid, recorded_at, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (position) DO NOTHING`,
		int64(e.Position), e.Stream, e.Type, e.Summary, e.Subject, e.Actor, e.Client, e.Session, e.Family, e.JTI, e.KeyID,
		e.RecordedAt.UnixMicro(), e.Hash)
	return err
}

func keepCheckpoint(ctx context.Context, tx *sql.Tx, t projections.Tables, r eventstore.Record) error {
	ev, err := checkpoint.Decode(r.Type, r.Data)
	if err != nil {
		return err
	}
	cp, ok := ev.(checkpoint.Signed)
	if !ok {
		return nil
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO `+t.Name("checkpoints")+` (signed_position, hash, jws, at, position) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (position) DO NOTHING`, int64(cp.Position), cp.Hash, cp.JWS, cp.At.UnixMicro(), int64(r.Position))
	return err
}

// startsContext is the contexts key an event starts, or "": a session, a
// refresh family, an issued token.
func startsContext(typ string, e queries.AuditEntry) string {
	switch typ {
	case session.TypeStarted:
		return "session_id:" + e.Session
	case refreshtoken.TypeStarted:
		return "family:" + e.Family
	case token.TypeIssued:
		return "jti:" + e.JTI
	}
	return ""
}

// inherit fills the subject, client, session and family an event does not
// carry from what its family, session or token was started with. A start
// is always at a smaller position than what follows it, so a redelivery
// reads what the first delivery read.
func inherit(ctx context.Context, tx *sql.Tx, contexts string, lk *lookup, e *queries.AuditEntry) error {
	var subject, clientID, sessionID, family string
	err := tx.QueryRowContext(ctx, `SELECT subject, client_id, session_id, family FROM `+contexts+` WHERE key = $1`, lk.column+":"+lk.value).
		Scan(&subject, &clientID, &sessionID, &family)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // its start predates what this ledger holds, or was never folded
	}
	if err != nil {
		return err
	}
	fill := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	fill(&e.Subject, subject)
	fill(&e.Client, clientID)
	fill(&e.Session, sessionID)
	fill(&e.Family, family)
	return nil
}

// Store reads the live audit tables.
type Store struct {
	db          *sql.DB
	tbl         string
	checkpoints string
}

var _ queries.AuditReader = (*Store)(nil)

// NewStore reads the audit model in db.
func NewStore(db *projections.DB) *Store {
	live := db.Live(Name)
	return &Store{db: db.DB, tbl: live.Name("entries"), checkpoints: live.Name("checkpoints")}
}

const entryCols = `position, stream, type, summary, subject, actor, client_id, session_id, family, jti, kid, recorded_at, hash`

// Events answers one page of f, in position order.
func (s *Store) Events(ctx context.Context, f queries.AuditFilter) (queries.AuditPage, error) {
	if err := f.Validate(); err != nil {
		return queries.AuditPage{}, err
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	eq := func(col, v string) {
		if v != "" {
			where = append(where, col+" = "+arg(v))
		}
	}
	eq("subject", f.Subject)
	eq("actor", f.Actor)
	eq("client_id", f.Client)
	eq("session_id", f.Session)
	eq("family", f.Family)
	// With an identifier filter its (column, position) index is the scan:
	// at most a subject's entries, in page order. The type and time
	// filters are then written so that no index serves them (type || '',
	// recorded_at + 0), because PostgreSQL otherwise may prefer the
	// recorded_at or type index for a wide range and read half the table.
	typeCol, atCol := "type", "recorded_at"
	if len(where) > 0 {
		typeCol, atCol = "(type || '')", "(recorded_at + 0)"
	}
	if len(f.Types) > 0 {
		ph := make([]string, len(f.Types))
		for i, t := range f.Types {
			ph[i] = arg(t)
		}
		where = append(where, typeCol+" IN ("+strings.Join(ph, ", ")+")")
	}
	if !f.Since.IsZero() {
		where = append(where, atCol+" >= "+arg(f.Since.UnixMicro()))
	}
	if !f.Until.IsZero() {
		where = append(where, atCol+" < "+arg(f.Until.UnixMicro()))
	}
	if f.FromPosition > 0 {
		where = append(where, "position >= "+arg(int64(f.FromPosition)))
	}
	if f.ToPosition > 0 {
		where = append(where, "position <= "+arg(int64(f.ToPosition)))
	}
	order := "ASC"
	if f.Descending {
		order = "DESC"
		if f.After > 0 {
			where = append(where, "position < "+arg(int64(f.After)))
		}
	} else if f.After > 0 {
		where = append(where, "position > "+arg(int64(f.After)))
	}
	q := `SELECT ` + entryCols + ` FROM ` + s.tbl
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY position ` + order + ` LIMIT ` + arg(f.Limit+1)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return queries.AuditPage{}, err
	}
	defer rows.Close()
	var page queries.AuditPage
	for rows.Next() {
		var e queries.AuditEntry
		var pos, at int64
		if err := rows.Scan(&pos, &e.Stream, &e.Type, &e.Summary, &e.Subject, &e.Actor, &e.Client, &e.Session, &e.Family, &e.JTI, &e.KeyID, &at, &e.Hash); err != nil {
			return queries.AuditPage{}, err
		}
		e.Position, e.RecordedAt = uint64(pos), time.UnixMicro(at).UTC()
		page.Entries = append(page.Entries, e)
	}
	if err := rows.Err(); err != nil {
		return queries.AuditPage{}, err
	}
	page.Next = f.After
	if len(page.Entries) > f.Limit {
		page.Entries, page.More = page.Entries[:f.Limit], true
	}
	if n := len(page.Entries); n > 0 {
		page.Next = page.Entries[n-1].Position
	}
	return page, nil
}

// Checkpoints lists up to limit recorded checkpoints that signed a
// position greater than after, in ledger order.
func (s *Store) Checkpoints(ctx context.Context, after uint64, limit int) ([]queries.RecordedCheckpoint, error) {
	if limit < 1 || limit > queries.MaxAuditPage {
		return nil, fmt.Errorf("%w: limit must be 1-500", queries.ErrBadAuditFilter)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT signed_position, hash, jws, at, position FROM `+s.checkpoints+`
		WHERE signed_position > $1 ORDER BY position LIMIT $2`, int64(after), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []queries.RecordedCheckpoint{}
	for rows.Next() {
		var c queries.RecordedCheckpoint
		var sp, at, pos int64
		if err := rows.Scan(&sp, &c.Hash, &c.Checkpoint, &at, &pos); err != nil {
			return nil, err
		}
		c.Position, c.SignedAt, c.RecordedAtPosition = uint64(sp), time.UnixMicro(at).UTC(), uint64(pos)
		out = append(out, c)
	}
	return out, rows.Err()
}
