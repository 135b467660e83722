// Package postgres is the production ledger adapter (pgx v5).
package postgres

import (
	"context"
	"errors"

	"authledger/eventstore"
)

// Options tunes the adapter.
type Options struct{}

// Open connects to dsn and migrates the ledger schema.
func Open(ctx context.Context, dsn string, opt Options) (eventstore.Store, error) {
	return nil, errors.New("postgres: not implemented yet")
}
