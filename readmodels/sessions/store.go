package sessions

import (
	"context"
	"time"

	"authledger/domain/session"
)

// Store keeps live sessions. Lookup and Touch are on every cookie request;
// the rest are rare. Every method returns session.ErrNotFound for a missing
// session and wraps session.ErrUnavailable when the backend cannot answer.
// ttl is how long the backend may keep the entry (the smaller of the idle
// and the remaining absolute timeout); callers still apply
// session.CheckExpiry with their own clock.
type Store interface {
	// Create stores a new session under its token hash.
	Create(ctx context.Context, rec session.Record, ttl time.Duration) error
	// Lookup returns the session whose token hashes to tokenHash.
	Lookup(ctx context.Context, tokenHash string) (session.Record, error)
	// Get returns the session by id.
	Get(ctx context.Context, id string) (session.Record, error)
	// Save replaces the session's record (touch, step-up). When the token
	// hash changed, the old hash stops resolving at once.
	Save(ctx context.Context, rec session.Record, ttl time.Duration) error
	// Touch records a use at lastSeen and extends the ttl, for the token
	// hash it was looked up by only: a touch racing a rotation never brings
	// the old token back.
	Touch(ctx context.Context, rec session.Record, lastSeen time.Time, ttl time.Duration) error
	// Delete removes the session by id; a missing one is not an error.
	Delete(ctx context.Context, id string) error
	// ListBySubject returns the subject's sessions still held.
	ListBySubject(ctx context.Context, subject string) ([]session.Record, error)
	// Ping reports whether the backend answers.
	Ping(ctx context.Context) error
}
