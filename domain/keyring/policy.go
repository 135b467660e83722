package keyring

import (
	"errors"
	"fmt"
	"time"

	"github.com/authledger/authledger/domain/token"
)

// Policy times the key life cycle. A verifier may cache the JWKS for
// JWKSMaxAge plus StaleWhileRevalidate and its clock may be ClockSkew off, so
// a new key must be published at least that long before it signs
// (PublicationLead), and a retired key must stay published until the
// longest token it signed has expired (RetirementTail).
type Policy struct {
	// RotationInterval is how long a key signs before its successor takes
	// over. Default 24 h.
	RotationInterval time.Duration
	// JWKSMaxAge is the Cache-Control max-age of the JWKS. Default 5 min.
	JWKSMaxAge time.Duration
	// StaleWhileRevalidate is how long a cache may serve a stale JWKS while
	// refetching (RFC 5861). Default 1 min.
	StaleWhileRevalidate time.Duration
	// ClockSkew is the largest clock difference tolerated between issuer and
	// verifiers. Default 1 min.
	ClockSkew time.Duration
	// PublicationLead is how long a key is published before it signs; at
	// least JWKSMaxAge + StaleWhileRevalidate + ClockSkew. Default 15 min.
	PublicationLead time.Duration
	// MaxTokenLifetime is the longest lifetime of a token signed with these
	// keys. Default: the longest JWT class of domain/token (M2M, 30 min).
	MaxTokenLifetime time.Duration
	// RetirementTail is how long a retired key stays published; at least
	// MaxTokenLifetime + ClockSkew. Default MaxTokenLifetime + ClockSkew.
	RetirementTail time.Duration
}

// DefaultPolicy returns the safe defaults.
func DefaultPolicy() Policy { return Policy{}.WithDefaults() }

// LongestJWTLifetime is the longest lifetime of any JWT class.
func LongestJWTLifetime() time.Duration {
	var d time.Duration
	for _, c := range token.Classes() {
		if c.JWTType != "" && c.Lifetime > d {
			d = c.Lifetime
		}
	}
	return d
}

// WithDefaults fills every zero field.
func (p Policy) WithDefaults() Policy {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&p.RotationInterval, 24*time.Hour)
	set(&p.JWKSMaxAge, 5*time.Minute)
	set(&p.StaleWhileRevalidate, time.Minute)
	set(&p.ClockSkew, time.Minute)
	set(&p.PublicationLead, 15*time.Minute)
	set(&p.MaxTokenLifetime, LongestJWTLifetime())
	set(&p.RetirementTail, p.MaxTokenLifetime+p.ClockSkew)
	return p
}

// MinPublicationLead is the shortest lead that keeps every cached JWKS able
// to verify a new key's first token.
func (p Policy) MinPublicationLead() time.Duration {
	return p.JWKSMaxAge + p.StaleWhileRevalidate + p.ClockSkew
}

// Validate names every problem at once.
func (p Policy) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidPolicy}, a...)...))
	}
	for name, d := range map[string]time.Duration{
		"rotation interval": p.RotationInterval, "JWKS max-age": p.JWKSMaxAge,
		"publication lead": p.PublicationLead, "max token lifetime": p.MaxTokenLifetime,
		"retirement tail": p.RetirementTail,
	} {
		if d <= 0 {
			bad("%s must be positive, got %s", name, d)
		}
	}
	if p.ClockSkew < 0 || p.StaleWhileRevalidate < 0 {
		bad("clock skew and stale-while-revalidate must not be negative")
	}
	if p.PublicationLead < p.MinPublicationLead() {
		bad("publication lead %s is shorter than JWKS max-age + stale-while-revalidate + clock skew (%s)", p.PublicationLead, p.MinPublicationLead())
	}
	if p.RetirementTail < p.MaxTokenLifetime+p.ClockSkew {
		bad("retirement tail %s is shorter than max token lifetime + clock skew (%s)", p.RetirementTail, p.MaxTokenLifetime+p.ClockSkew)
	}
	if p.MaxTokenLifetime < LongestJWTLifetime() {
		bad("max token lifetime %s is shorter than the longest JWT class (%s)", p.MaxTokenLifetime, LongestJWTLifetime())
	}
	if p.RotationInterval <= p.PublicationLead {
		bad("rotation interval %s must be longer than the publication lead %s", p.RotationInterval, p.PublicationLead)
	}
	return errors.Join(errs...)
}
