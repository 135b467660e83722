package postgres

// Schema of the PostgreSQL ledger (format v1 of DESIGN.md §3), for tools
// that read or audit the database directly:
//
//	schema_migrations(version integer PRIMARY KEY, applied_at timestamptz)
//	events(
//	  position    bigint PRIMARY KEY   -- 1, 2, 3 … gapless
//	  stream      text                 -- UNIQUE (stream, version)
//	  version     bigint               -- 1-based inside its stream
//	  id          uuid UNIQUE          -- UUIDv7 (rendered lower-case)
//	  type        text
//	  recorded_at timestamptz          -- microsecond precision, UTC
//	  data        json                 -- JSON object, text exactly as appended (json, not jsonb)
//	  metadata    json                 -- JSON object, text exactly as appended
//	  prev_hash   text                 -- 64 lower-case hex
//	  hash        text                 -- 64 lower-case hex
//	)
//
// Appends serialize on pg_advisory_xact_lock(appendLockKey) so that every
// process extends the same chain head. migrations[i] is schema version i+1;
// a migration is never edited once released, only followed by a new one.
var migrations = []string{
	`CREATE TABLE events (
		position    bigint      PRIMARY KEY,
		stream      text        NOT NULL,
		version     bigint      NOT NULL,
		id          uuid        NOT NULL UNIQUE,
		type        text        NOT NULL,
		recorded_at timestamptz NOT NULL,
		data        json        NOT NULL,
		metadata    json        NOT NULL,
		prev_hash   text        NOT NULL,
		hash        text        NOT NULL,
		UNIQUE (stream, version)
	)`,
}

const (
	// appendLockKey serializes appends across processes (transaction-scoped).
	appendLockKey int64 = 0x61757468_6c656467 // "authledg"
	// migrateLockKey serializes schema migrations across processes.
	migrateLockKey int64 = 0x61757468_6d696772 // "authmigr"
	// notifyChannel carries "a commit happened" to every listener; the
	// payload is the new head position, informational only.
	notifyChannel = "authledger_events"
)
