package commands

import (
	"errors"

	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/secrets"
)

// Dependencies a use case can find out of service, as named in logs and in
// the authledger_dependency_errors_total metric.
const (
	DependencyLedger       = "ledger"
	DependencySecrets      = "secrets"
	DependencySessionStore = "session_store"
)

// Outage reports whether err means a dependency is out of service — the
// ledger (eventstore.ErrUnavailable: connection, timeout, disk full,
// read-only, as each adapter classifies its engine's errors; or a closed
// store), the secret provider (secrets.ErrUnavailable) or the session
// store (session.ErrUnavailable) — and which one. Such a request may
// succeed if retried later: the API answers 503 with Retry-After, not 500.
// This is the one place that decides which errors are outages.
func Outage(err error) (dependency string, ok bool) {
	switch {
	case err == nil:
		return "", false
	case errors.Is(err, eventstore.ErrUnavailable), errors.Is(err, eventstore.ErrClosed):
		return DependencyLedger, true
	case errors.Is(err, secrets.ErrUnavailable):
		return DependencySecrets, true
	case errors.Is(err, session.ErrUnavailable):
		return DependencySessionStore, true
	}
	return "", false
}
