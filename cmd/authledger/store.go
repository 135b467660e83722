package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"

	"authledger/eventstore"
	"authledger/eventstore/postgres"
	"authledger/eventstore/sqlite"
	"authledger/readmodels"
)

// openStore opens the ledger named by a sqlite:// or postgres:// URL and
// applies its schema migrations.
func openStore(ctx context.Context, raw string) (eventstore.Store, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's error quotes the URL, password included.
		return nil, errors.New("ledger URL: cannot parse AUTHLEDGER_STORE")
	}
	switch u.Scheme {
	// Each case returns its own nil on error: a nil *Store inside the
	// interface would not compare equal to nil.
	case "sqlite":
		s, err := sqlite.Open(ctx, sqlitePath(u), sqlite.Options{})
		if err != nil {
			return nil, err
		}
		return s, nil
	case "postgres", "postgresql":
		s, err := postgres.Open(ctx, raw, postgres.Options{})
		if err != nil {
			return nil, err
		}
		return s, nil
	default:
		return nil, fmt.Errorf("ledger URL: unsupported scheme %q", u.Scheme)
	}
}

// sqlitePath is readmodels.SQLitePath under the name audit.go and
// wire_keys.go already call, so the parsing lives in one place.
func sqlitePath(u *url.URL) string { return readmodels.SQLitePath(u) }

// openExistingStore opens the configured ledger for a read-only command
// (audit export|verify, projections status, keys list, services list|show).
// An SQLite file that does not exist is an error naming the path looked
// for, rather than a new empty ledger: that would create ./data in
// whatever folder the operator stood in and "verify" a mistyped path as a
// valid ledger of zero events.
func openExistingStore(ctx context.Context, cfg Config) (eventstore.Store, error) {
	if err := mustExist("ledger", "STORE", cfg.Store); err != nil {
		return nil, err
	}
	store, err := openStore(ctx, cfg.Store)
	if err != nil {
		return nil, fmt.Errorf("open ledger: %w", err)
	}
	return store, nil
}

// openExistingReadModels is openExistingStore for the read-model database.
func openExistingReadModels(ctx context.Context, cfg Config) (*readmodels.DB, error) {
	if err := mustExist("read-model database", "READMODELS", cfg.ReadModels); err != nil {
		return nil, err
	}
	db, err := readmodels.Open(ctx, cfg.ReadModels)
	if err != nil {
		return nil, fmt.Errorf("open read models: %w", err)
	}
	return db, nil
}

// mustExist fails when raw (the AUTHLEDGER_<setting>) names an SQLite file
// that is not there. Other engines are servers whose database the operator
// created; their URL is not checked here.
func mustExist(what, setting, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "sqlite" {
		return nil // openStore and readmodels.Open name a bad URL without quoting it
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
