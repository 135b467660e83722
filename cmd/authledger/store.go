package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/esdb"
	"github.com/authledger/authledger/eventstore/postgres"
	"github.com/authledger/authledger/eventstore/sqlite"
	"github.com/authledger/authledger/projections"
)

// openStore opens the ledger named by a sqlite://, postgres:// or esdb://
// URL and applies its schema migrations.
func openStore(ctx context.Context, raw string) (eventstore.Store, error) {
	return openLedger(ctx, raw, false)
}

// openLedger is openStore; with mustExist, a PostgreSQL database without a
// ledger schema is refused (postgres.ErrNoLedger) rather than given one.
func openLedger(ctx context.Context, raw string, mustExist bool) (eventstore.Store, error) {
	return openLedgerObserved(ctx, raw, mustExist, nil)
}

// openLedgerObserved is openLedger with onBatch (may be nil) told the size
// of each group-commit transaction.
func openLedgerObserved(ctx context.Context, raw string, mustExist bool, onBatch func(int)) (eventstore.Store, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's error quotes the URL, password included.
		return nil, errors.New("ledger URL: cannot parse AUTHLEDGER_STORE")
	}
	switch u.Scheme {
	// Each case returns its own nil on error: a nil *Store inside the
	// interface would not compare equal to nil.
	case "sqlite":
		s, err := sqlite.Open(ctx, sqlitePath(u), sqlite.Options{OnBatch: onBatch})
		if err != nil {
			return nil, err
		}
		return s, nil
	case "postgres", "postgresql":
		s, err := postgres.Open(ctx, raw, postgres.Options{MustExist: mustExist, OnBatch: onBatch})
		if err != nil {
			return nil, err
		}
		return s, nil
	case "esdb", "esdb+discover":
		s, err := esdb.Open(ctx, raw, esdb.Options{MustExist: mustExist})
		if err != nil {
			return nil, err
		}
		return s, nil
	default:
		return nil, fmt.Errorf("ledger URL: unsupported scheme %q", u.Scheme)
	}
}

// sqlitePath is projections.SQLitePath under the name audit.go and
// wire_keys.go already call, so the parsing lives in one place.
func sqlitePath(u *url.URL) string { return projections.SQLitePath(u) }

// openExistingStore opens the configured ledger for a read-only command
// (audit export|verify, projections status, keys list, services list|show).
// An SQLite file that does not exist, or a PostgreSQL database without the
// ledger schema, is an error naming where it looked, rather than a new
// empty ledger: that would create ./data in whatever folder the operator
// stood in (or tables in the wrong database) and "verify" a mistyped path
// as a valid ledger of zero events.
func openExistingStore(ctx context.Context, cfg Config) (eventstore.Store, error) {
	if err := mustExist("ledger", "STORE", cfg.Store); err != nil {
		return nil, err
	}
	store, err := openLedger(ctx, cfg.Store, true)
	switch {
	case errors.Is(err, esdb.ErrNoLedger):
		return nil, fmt.Errorf("no ledger at %s (set %sSTORE to where it is): %w", redactURL(cfg.Store), envPrefix, err)
	case errors.Is(err, postgres.ErrNoLedger):
		return nil, fmt.Errorf("no ledger in PostgreSQL database %s (set %sSTORE to where it is): %w", redactURL(cfg.Store), envPrefix, err)
	case err != nil:
		return nil, fmt.Errorf("open ledger: %w", err)
	}
	return store, nil
}

// openExistingReadModels is openExistingStore for the read-model database.
func openExistingReadModels(ctx context.Context, cfg Config) (*projections.DB, error) {
	if err := mustExist("read-model database", "READMODELS", cfg.ReadModels); err != nil {
		return nil, err
	}
	db, err := projections.Open(ctx, cfg.ReadModels)
	if err != nil {
		return nil, fmt.Errorf("open read models: %w", err)
	}
	return db, nil
}

// mustExist fails when raw (the AUTHLEDGER_<setting>) names an SQLite file
// that is not there. A PostgreSQL ledger is checked by the adapter
// (postgres.Options.MustExist).
func mustExist(what, setting, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "sqlite" {
		return nil // openStore and projections.Open name a bad URL without quoting it
	}
	path := sqlitePath(u)
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("no %s at %s (set %s%s or %sDATA_DIR to where it is): %w", what, path, envPrefix, setting, envPrefix, fs.ErrNotExist)
		}
		return fmt.Errorf("no %s at %s: %w", what, path, err)
	}
	return nil
}

// configuredLedger loads the configuration and opens its ledger read-only
// (openExistingStore), for the commands that report on a ledger and must
// never create one. The caller closes the store.
func configuredLedger(ctx context.Context) (Config, eventstore.Store, error) {
	cfg, err := LoadConfig()
	if err != nil {
		return Config{}, nil, err
	}
	store, err := openExistingStore(ctx, cfg)
	if err != nil {
		return Config{}, nil, err
	}
	return cfg, store, nil
}
