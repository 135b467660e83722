// Package commands holds one handler per use case: load the aggregates it
// decides on through a Repository, ask the domain to decide, append with
// expected versions (Repository.Update, AppendAll), return the result.
// Every port a handler consumes is declared here, split to what each
// consumer uses; cmd/authledger plugs the adapters in.
package commands

import (
	"context"
	"time"

	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/domain/token"
)

// Signer issues access and M2M JWTs with the active signing key and records
// each issuance in the ledger (token-<jti> stream). meta is the event
// metadata (correlation id, actor, request id).
type Signer interface {
	Sign(ctx context.Context, c token.Claims, meta Metadata) (token.Issued, error)
}

// Metadata is carried into every event's metadata. No secret belongs here.
type Metadata struct {
	CorrelationID string `json:"correlation_id,omitempty"`
	CausationID   string `json:"causation_id,omitempty"`
	Actor         string `json:"actor,omitempty"`
	RequestID     string `json:"request_id,omitempty"`
}

// SessionWriter is the write half of the live-session store: the hashed
// cookie → session record map with idle and absolute expiry (Redis in
// production, memory embedded). It is write-side state beside the ledger,
// not a read model: the ledger records what happened, this store answers
// cookie lookups within the idle timeout.
type SessionWriter interface {
	Create(ctx context.Context, rec session.Record, ttl time.Duration) error
	Save(ctx context.Context, rec session.Record, ttl time.Duration) error
	Touch(ctx context.Context, rec session.Record, lastSeen time.Time, ttl time.Duration) error
	Delete(ctx context.Context, id string) error
	// Ping answers whether the store is reachable, so a command can refuse
	// before it appends anything.
	Ping(ctx context.Context) error
}

// SessionReader is the read half of the live-session store.
type SessionReader interface {
	Lookup(ctx context.Context, tokenHash string) (session.Record, error)
	Get(ctx context.Context, id string) (session.Record, error)
	ListBySubject(ctx context.Context, subject string) ([]session.Record, error)
}

// SessionIndex finds a session by its current token's hash in the
// ledger's view (the session-token projection), with the last use the
// ledger knows of, for a session store that lost the session: a Redis
// restarted without persistence, an embedded instance restarted. Unknown
// hashes answer session.ErrNotFound.
type SessionIndex interface {
	SessionByTokenHash(ctx context.Context, tokenHash string) (id string, lastSeen time.Time, err error)
}

// SessionStore is both halves; sessionstore implements it for Redis and in
// process, and its contract suite runs against this port.
type SessionStore interface {
	SessionWriter
	SessionReader
}

// AccessVerifier checks an access JWT's signature (EdDSA, a key of this
// issuer that is not revoked), typ and issuer. It does not apply expiry or
// revocation: revocation must see expired tokens.
type AccessVerifier interface {
	VerifySignature(ctx context.Context, raw string) (token.AccessClaims, error)
}

// RevocationChecker answers whether any of a token's identifiers is revoked
// now (readmodels/revocations implements it, with the same shape as
// client/verifier's Revocation hook).
type RevocationChecker interface {
	IsRevoked(jti, sid, family string) bool
}

// RevocationPublisher hurries a revocation to every instance once it is in
// the ledger. kind is "jti", "sid", "family" or "client". It is best effort: the
// ledger feed delivers the same entry anyway.
type RevocationPublisher interface {
	PublishRevocation(ctx context.Context, kind, id string, until time.Time) error
}
