package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/authledger/authledger/eventstore"
)

// classify marks the outages among err (eventstore.Unavailable): the
// server cannot be reached, dropped the connection, timed out, is shutting
// down, is out of disk or memory, or is a read-only standby. Every other
// error (a version conflict, a constraint, a bug) is returned unchanged.
func classify(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			strings.HasPrefix(pe.Code, "53"),  // insufficient resources: disk full, out of memory, too many connections
			strings.HasPrefix(pe.Code, "57P"), // operator intervention: admin shutdown, crash shutdown, cannot connect now
			pe.Code == "25006",                // read_only_sql_transaction: a standby or default_transaction_read_only
			pe.Code == "55P03",                // lock_not_available (lock_timeout)
			pe.Code == "57014",                // query_canceled by statement_timeout (the caller's context is checked above)
			pe.Code == "58030":                // io_error
			return eventstore.Unavailable(err)
		}
		return err
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return eventstore.Unavailable(err)
	}
	return err
}
