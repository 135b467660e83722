package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"authledger/eventstore"
	"authledger/eventstore/postgres"
	"authledger/eventstore/sqlite"
)

// openStore opens the ledger named by a sqlite:// or postgres:// URL and
// applies its schema migrations.
func openStore(ctx context.Context, raw string) (eventstore.Store, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("ledger URL: %w", err)
	}
	switch u.Scheme {
	case "sqlite":
		return sqlite.Open(ctx, sqlitePath(u), sqlite.Options{})
	case "postgres", "postgresql":
		return postgres.Open(ctx, raw, postgres.Options{})
	default:
		return nil, fmt.Errorf("ledger URL: unsupported scheme %q", u.Scheme)
	}
}

// sqlitePath accepts sqlite:///abs/path and sqlite://rel/path.
func sqlitePath(u *url.URL) string {
	if u.Host != "" {
		return u.Host + u.Path
	}
	return strings.TrimPrefix(u.Opaque, "//") + u.Path
}
