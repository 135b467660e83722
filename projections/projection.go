// Package projections folds the ledger into read models. A projection
// declares its name (with a version suffix) and the event types it handles;
// that declaration is its subscription. The Runner feeds each projection from
// its stored checkpoint through a Watermill router, stops a projection at a
// poisoned event (never a silent skip), rebuilds SQL read models in a shadow
// copy and swaps it in atomically, and lets commands wait for a position
// (read-your-writes).
//
// # Writing an SQL projection
//
// Rows live in the read-model database (SQLite or PostgreSQL through
// database/sql). The runner commits Apply's rows and the checkpoint in one
// transaction, so an event is never lost or applied twice. Name every table
// and index through the Tables value the runner passes in: during a rebuild
// it resolves to the shadow copy, otherwise to the live one.
//
//	type Sessions struct{}
//
//	func (Sessions) Name() string      { return "sessions.v1" } // a new suffix rebuilds from position 1
//	func (Sessions) Handles() []string { return []string{session.TypeStarted, session.TypeEnded} }
//	func (Sessions) Tables() []string  { return []string{"sessions"} }
//
//	func (Sessions) Setup(ctx context.Context, tx *sql.Tx, t projections.Tables) error {
//		_, err := tx.ExecContext(ctx, `CREATE TABLE `+t.Name("sessions")+` (id TEXT PRIMARY KEY, subject TEXT NOT NULL, pos BIGINT NOT NULL)`)
//		if err == nil {
//			_, err = tx.ExecContext(ctx, `CREATE INDEX `+t.Index("sessions_subject")+` ON `+t.Name("sessions")+` (subject)`)
//		}
//		return err
//	}
//
//	func (Sessions) Apply(ctx context.Context, tx *sql.Tx, t projections.Tables, r eventstore.Record) error {
//		e, err := session.Decode(r.Type, r.Data) // the domain's codec, so its upcasters reach the projection
//		if err != nil {
//			return err // a bad payload poisons the projection: it stops here and reports
//		}
//		switch e := e.(type) {
//		case session.Started:
//			_, err := tx.ExecContext(ctx, `INSERT INTO `+t.Name("sessions")+` (id, subject, pos) VALUES ($1, $2, $3)`, e.ID, e.Subject, r.Position)
//			return err
//		case session.Ended:
//			...
//		}
//		return nil
//	}
//
// Readers use the live names, which never change for one projection name:
//
//	var sessionsTable = projections.Live("sessions.v1").Name("sessions") // "rm_sessions_v1__sessions"
//
// Placeholders: write $1, $2 … in order of appearance; both SQLite (modernc)
// and PostgreSQL (pgx) accept them. t.Dialect() tells the two apart where
// the SQL must differ. Use INSERT … ON CONFLICT for upserts (both support it).
//
// Setup runs once per generation (first start, and at the start of each
// rebuild) inside a transaction; it must only create the projection's own
// tables and indexes.
//
// # In-process projections
//
// A MemoryProjection (JWKS bytes, revocation set, caches) runs on every
// instance and rebuilds from position 0 at each start; the runner serializes
// Apply calls, but readers on other goroutines need the projection's own
// lock.
//
// # Errors
//
// An error from Apply is retried a bounded number of times with backoff;
// if it persists the projection stops at that event, reports it in status,
// metrics and readiness, and resumes from the same event after a restart
// with fixed code or Runner.Resume.
//
// # Watermill
//
// Each projection is one handler on its own Watermill Router, built once
// and run for the Runner's lifetime. The subscriber is the ledger itself
// (the durable source): a record becomes a message whose payload is the
// event's data bytes and whose metadata carries the envelope (MetaPosition,
// MetaStream, MetaVersion, MetaType, MetaRecordedAt, MetaHash, …; see
// RecordMessage), so nothing is re-encoded within the instance. Watermill's
// Retry and Recoverer middleware wrap the handler, and a poison step
// outside them records the stop and nacks.
//
// Two parts are deliberately not Watermill's:
//
//   - Stop, never skip. Watermill's PoisonQueue acks the failed message and
//     moves on; a read model that skipped an event would be silently wrong.
//     Here a nack holds the message in the subscriber until Runner.Resume
//     (or a restart), and it is redelivered as a new message for the same
//     record.
//   - Where to start. A run starts after the checkpoint stored with the
//     rows (or position 0 for memory projections), which changes with every
//     lock take-over and rebuild swap. Watermill subscribers have no offset
//     parameter, so the subscriber is subscribed once and each run tells it
//     where to read from.
//
// Messages are handled one at a time, acked before the next is sent, so
// each SQL record commits in its own transaction (no backlog batching:
// batching would need several records in one message, encoded again).
// cqrs.EventProcessor is not used: it derives handler input from Go types
// through a marshaler, while projections take the stored record, with the
// event names the domain declares as constants.
package projections

import (
	"context"
	"database/sql"
	"strconv"
	"strings"

	"github.com/authledger/authledger/eventstore"
)

// Projection is what every projection declares. Name carries a version
// suffix ("sessions.v1"); a new suffix is a new projection that builds from
// position 1. Handles lists the stored event types it consumes; only those
// are delivered, while the checkpoint still advances past the rest.
type Projection interface {
	Name() string
	Handles() []string
}

// SQLProjection keeps rows in the read-model database.
type SQLProjection interface {
	Projection
	// Tables lists the logical names of the tables it owns, so the runner
	// can drop and swap them during a rebuild.
	Tables() []string
	// Setup creates the tables and indexes of one generation, named
	// through t.
	Setup(ctx context.Context, tx *sql.Tx, t Tables) error
	// Apply folds one record into the rows named through t. It runs in the
	// transaction that also stores the checkpoint.
	Apply(ctx context.Context, tx *sql.Tx, t Tables, r eventstore.Record) error
}

// MemoryProjection keeps its state in process. Every instance runs its own
// copy, built from position 0 at start; it has no stored checkpoint.
type MemoryProjection interface {
	Projection
	// Apply folds one record into the in-memory state.
	Apply(ctx context.Context, r eventstore.Record) error
}

// Tables resolves a projection's logical table and index names to physical
// ones for one generation. The live copy of a projection always has the same
// table names (readers can hard-code them via Live); the shadow copy built
// by a rebuild has a suffix and is renamed to the live names at the swap.
type Tables struct {
	prefix  string
	shadow  bool
	gen     uint64
	dialect Dialect
}

// Live returns the resolver for the live copy of the named projection, for
// readers. Its Index and Dialect are meaningless to readers.
func Live(projection string) Tables { return Tables{prefix: tablePrefix(projection)} }

// Live returns the resolver for the live copy of the named projection in
// db: Live's names, with db's dialect. Its Index is meaningless, as Live's.
func (db *DB) Live(projection string) Tables {
	t := Live(projection)
	t.dialect = db.Dialect
	return t
}

// Name returns the physical name of a logical table.
func (t Tables) Name(logical string) string {
	n := t.prefix + "__" + logical
	if t.shadow {
		n += "__shadow"
	}
	return n
}

// Index returns a physical index name unique to this generation, because
// PostgreSQL index names are schema-wide and survive a table rename.
func (t Tables) Index(logical string) string {
	return t.prefix + "__" + logical + "__g" + strconv.FormatUint(t.gen, 10)
}

// Dialect tells SQLite and PostgreSQL apart for the rare SQL that differs.
func (t Tables) Dialect() Dialect { return t.dialect }

// Shadow reports whether t names the copy a rebuild is building.
func (t Tables) Shadow() bool { return t.shadow }

// tablePrefix maps "sessions.v1" to "rm_sessions_v1": lower-case letters,
// digits and underscores only, so names need no quoting.
func tablePrefix(name string) string {
	var b strings.Builder
	b.WriteString("rm_")
	for _, c := range strings.ToLower(name) {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
