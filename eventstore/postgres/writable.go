package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/authledger/authledger/eventstore"
)

var _ eventstore.WritableChecker = (*Store)(nil)

// errReadOnly: the server answers but takes no writes.
var errReadOnly = errors.New("postgres: the server is read-only")

// CheckWritable reports, without writing, whether appends can succeed: the
// server answers, is not a standby in recovery, and does not make new
// transactions read-only (default_transaction_read_only, or a replica).
// A full disk is not visible without writing; the outcome of real appends
// tells that (eventstore.WriteHealth).
func (s *Store) CheckWritable(ctx context.Context) error {
	var recovery bool
	var readOnly string
	err := s.pool.QueryRow(ctx, `SELECT pg_is_in_recovery(), current_setting('transaction_read_only')`).Scan(&recovery, &readOnly)
	if err != nil {
		if c := classify(err); errors.Is(c, eventstore.ErrUnavailable) {
			return c
		}
		return eventstore.Unavailable(fmt.Errorf("postgres: check writable: %w", err))
	}
	if recovery || readOnly == "on" {
		return eventstore.Unavailable(fmt.Errorf("%w (in recovery %t, transaction_read_only %s)", errReadOnly, recovery, readOnly))
	}
	return nil
}
