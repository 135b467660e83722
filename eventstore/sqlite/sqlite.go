// Package sqlite is the embedded ledger adapter (modernc.org/sqlite, WAL).
package sqlite

import (
	"context"
	"errors"

	"authledger/eventstore"
)

// Options tunes the adapter.
type Options struct{}

// Open opens (creating if needed) the ledger file at path and migrates it.
func Open(ctx context.Context, path string, opt Options) (eventstore.Store, error) {
	return nil, errors.New("sqlite: not implemented yet")
}
