package queries

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/authledger/authledger/domain/token"
)

// leeway tolerates clock skew between instances for nbf only; expiry is
// exact, so a token is never reported active after it.
const leeway = 5 * time.Second

// accessLive is the rule introspection and the bearer check both apply to
// a correctly signed access token: inside its time window (nbf with
// leeway, exp exact), not revoked by jti or session, and not naming a
// disabled client.
func accessLive(c token.AccessClaims, revocations RevocationChecker, now time.Time) bool {
	if !now.Before(c.ExpiresAt) || now.Add(leeway).Before(c.NotBefore) {
		return false
	}
	return !revocations.IsRevoked(c.JTI, c.SessionID, "") && !revocations.IsClientRevoked(c.ClientID)
}

// ErrAccessDenied: a bearer token presented to authledger's own APIs is
// missing, invalid, expired, revoked or not meant for them.
var ErrAccessDenied = errors.New("tokens: access token not valid here")

// AccessChecker checks bearer tokens presented to authledger's own /v1
// APIs.
type AccessChecker struct {
	verifier    AccessVerifier
	revocations RevocationChecker
	issuer      string
	now         func() time.Time
}

// NewAccessChecker builds the checker; now nil means time.Now.
func NewAccessChecker(verifier AccessVerifier, revocations RevocationChecker, issuer string, now func() time.Time) *AccessChecker {
	if now == nil {
		now = time.Now
	}
	return &AccessChecker{verifier: verifier, revocations: revocations, issuer: issuer, now: now}
}

// Check verifies signature, time window, aud holding the issuer
// (DESIGN.md §5), and the revocation set.
func (q *AccessChecker) Check(ctx context.Context, raw string) (token.AccessClaims, error) {
	c, err := q.verifier.VerifySignature(ctx, raw)
	if err != nil {
		return token.AccessClaims{}, fmt.Errorf("%w: %w", ErrAccessDenied, err)
	}
	if !accessLive(c, q.revocations, q.now().UTC()) || !slices.Contains(c.Audience, q.issuer) {
		return token.AccessClaims{}, ErrAccessDenied
	}
	return c, nil
}
