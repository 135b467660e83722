package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/authledger/authledger/internal/migrate"
)

// Dialect names the SQL engine behind a read-model DB; Tables.Dialect
// tells projections which one they write to.
type Dialect string

// The engines a read-model database can run on.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is an open, migrated read-model database: projection_state and the
// SQL projections' tables. It lives here, not under readmodels/, so the
// read models import the projection engine and never the other way round.
type DB struct {
	*sql.DB
	Dialect Dialect
	// DSN is what the driver was opened with; PostgreSQL projections open
	// dedicated connections from it for their advisory locks.
	DSN string
}

// ErrUnsupportedURL is returned for a URL that is neither sqlite:// nor
// postgres://.
var ErrUnsupportedURL = errors.New("projections: unsupported database URL")

// Open opens sqlite:///path (or sqlite://rel/path) or postgres://… and
// applies the engine's migrations.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedURL, err)
	}
	var db *DB
	switch u.Scheme {
	case "sqlite":
		path := SQLitePath(u)
		if path == "" {
			return nil, fmt.Errorf("%w: sqlite URL without a path", ErrUnsupportedURL)
		}
		// IMMEDIATE transactions take the write lock at BEGIN, so two
		// writers wait on busy_timeout instead of failing on upgrade. A
		// 32 MiB page cache per connection keeps rebuild index inserts off
		// the disk.
		// Created 0600 here, as the ledger is: SQLite would follow the umask.
		if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
			_ = f.Close()
		} else if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("projections: create sqlite file: %w", err)
		}
		dsn := "file:" + path + "?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_pragma=cache_size(-32768)"
		sdb, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("projections: open sqlite: %w", err)
		}
		db = &DB{DB: sdb, Dialect: SQLite, DSN: dsn}
	case "postgres", "postgresql":
		cfg, err := pgx.ParseConfig(rawURL)
		if err != nil {
			// pgx's parse error may echo the DSN, password included.
			return nil, fmt.Errorf("%w: invalid postgres URL", ErrUnsupportedURL)
		}
		// Read models are rebuildable from the ledger and each transaction
		// still commits atomically, so commits need not wait for the WAL
		// flush: a crash loses at most a suffix that is applied again. This
		// pool only; the ledger has its own.
		if cfg.RuntimeParams == nil {
			cfg.RuntimeParams = map[string]string{}
		}
		cfg.RuntimeParams["synchronous_commit"] = "off"
		pdb := stdlib.OpenDB(*cfg)
		pdb.SetMaxOpenConns(32)
		pdb.SetMaxIdleConns(8)
		db = &DB{DB: pdb, Dialect: Postgres, DSN: rawURL}
	default:
		return nil, fmt.Errorf("%w: scheme %q", ErrUnsupportedURL, u.Scheme)
	}
	if err := db.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("projections: connect: %w", err), db.Close())
	}
	if err := db.migrate(ctx); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return db, nil
}

// SQLitePath returns the file path of a sqlite:// URL; it accepts
// sqlite:///abs/path and sqlite://rel/path. The ledger and the keyring
// take their sqlite:// URLs the same way, so they call this too.
func SQLitePath(u *url.URL) string {
	if u.Host != "" {
		return u.Host + u.Path
	}
	return strings.TrimPrefix(u.Opaque, "//") + u.Path
}

// migrations are the engine's own tables, applied in order and recorded in
// readmodels_migrations. Never edit a shipped migration; append one.
var migrations = []string{stateMigration}

func (db *DB) migrate(ctx context.Context) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("projections: migrate: %w", err)
	}
	defer tx.Rollback()
	if db.Dialect == Postgres {
		// Several instances may start at once; the lock makes the
		// migration run once.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7261547388392)`); err != nil {
			return fmt.Errorf("projections: migrate lock: %w", err)
		}
	}
	if err := migrate.Run(ctx, migrate.SQL(tx), migrate.Table{
		Component: "projections",
		Create:    `CREATE TABLE IF NOT EXISTS readmodels_migrations (version BIGINT PRIMARY KEY)`,
		Current:   `SELECT coalesce(max(version), 0) FROM readmodels_migrations`,
		Record:    `INSERT INTO readmodels_migrations (version) VALUES ($1)`,
	}, migrations); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("projections: migrate: %w", err)
	}
	return nil
}
