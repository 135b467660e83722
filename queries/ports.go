// Package queries answers questions about tokens and sessions without
// deciding anything: introspection (RFC 7662), the bearer check of
// authledger's own /v1 APIs, and a subject's session list. Each query is
// its own type holding only the ports it reads, declared here.
package queries

import (
	"context"

	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/domain/token"
)

// AccessVerifier checks an access JWT's signature, typ and issuer, but not
// its time window or revocation (the queries apply both with their clock).
type AccessVerifier interface {
	VerifySignature(ctx context.Context, raw string) (token.AccessClaims, error)
}

// RevocationChecker answers whether any of a token's identifiers is
// revoked now: its jti, sid or family, or its client_id, every token of a
// disabled client being revoked (readmodels/revocations implements both).
type RevocationChecker interface {
	IsRevoked(jti, sid, family string) bool
	IsClientRevoked(clientID string) bool
}

// RefreshOpener opens a sealed refresh token (commands.RefreshSealer).
type RefreshOpener interface {
	Open(ctx context.Context, raw string) (refreshtoken.Claims, error)
}

// FamilyLoader reads a refresh family from the ledger, never from a cache
// or a read model: introspection must not call a spent token active
// (commands.FamilyRepository).
type FamilyLoader interface {
	Load(ctx context.Context, id refreshtoken.FamilyID) (*refreshtoken.Family, error)
}

// SessionLister lists a subject's live sessions (the session store).
type SessionLister interface {
	ListBySubject(ctx context.Context, subject string) ([]session.Record, error)
}
