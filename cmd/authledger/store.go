package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"authledger/eventstore"
	"authledger/eventstore/postgres"
	"authledger/eventstore/sqlite"
	"authledger/projections"
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

// sqlitePath is projections.SQLitePath under the name audit.go and
// wire_keys.go already call, so the parsing lives in one place.
func sqlitePath(u *url.URL) string { return projections.SQLitePath(u) }
