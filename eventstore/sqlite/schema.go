package sqlite

// Schema of the SQLite ledger (format v1 of DESIGN.md §3), for tools that
// read or audit the file directly:
//
//	schema_migrations(version INTEGER PRIMARY KEY, applied_at TEXT)
//	events(
//	  position    INTEGER PRIMARY KEY  -- 1, 2, 3 … gapless
//	  stream      TEXT                 -- UNIQUE (stream, version)
//	  version     INTEGER              -- 1-based inside its stream
//	  id          TEXT UNIQUE          -- lower-case UUIDv7
//	  type        TEXT
//	  recorded_at TEXT                 -- 2006-01-02T15:04:05.000000Z (eventstore.TimeLayout)
//	  data        TEXT                 -- JSON object, bytes exactly as appended
//	  metadata    TEXT                 -- JSON object, bytes exactly as appended
//	  prev_hash   TEXT                 -- 64 lower-case hex
//	  hash        TEXT                 -- 64 lower-case hex
//	)
//
// migrations[i] is schema version i+1; a migration is never edited once
// released, only followed by a new one.
var migrations = []string{
	`CREATE TABLE events (
		position    INTEGER PRIMARY KEY,
		stream      TEXT    NOT NULL,
		version     INTEGER NOT NULL,
		id          TEXT    NOT NULL UNIQUE,
		type        TEXT    NOT NULL,
		recorded_at TEXT    NOT NULL,
		data        TEXT    NOT NULL,
		metadata    TEXT    NOT NULL,
		prev_hash   TEXT    NOT NULL,
		hash        TEXT    NOT NULL,
		UNIQUE (stream, version)
	) STRICT`,
}
