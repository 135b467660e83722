// Package token holds the four token classes of DESIGN.md §4 as data, and
// the claims every issued JWT carries. Every issuance is bounded by its
// class (Bound): configuration may shorten a lifetime, never lengthen it.
package token

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// ClassName names a token class.
type ClassName string

const (
	Session ClassName = "session"
	Access  ClassName = "access"
	Refresh ClassName = "refresh"
	M2M     ClassName = "m2m"
)

// Storage says where a class's state lives.
type Storage string

const (
	StorageSessionStore Storage = "session_store" // Redis (embedded: in process), keyed by SHA-256 of the token
	StorageStateless    Storage = "stateless"     // JWT, verified against the JWKS
	StorageLedger       Storage = "ledger"        // family-<id> stream
)

// Class is one row of the token table.
type Class struct {
	Name ClassName
	// Form is how the token looks on the wire.
	Form string
	// Lifetime is the maximum lifetime (for sessions, the absolute one).
	Lifetime time.Duration
	// IdleTimeout applies to sessions only.
	IdleTimeout time.Duration
	// Audience is the fixed audience; nil means registered per service.
	Audience []string
	// Rotation says what replaces the token.
	Rotation string
	Storage  Storage
	// JWTType is the JOSE typ header for JWT classes (RFC 9068).
	JWTType string
}

// classes is the bound for every class: nothing may be issued with a longer
// lifetime than these. It is unexported so nothing can widen a bound at run
// time; Bound and Classes hand out copies.
var classes = []Class{
	{Name: Session, Form: "opaque 256-bit cookie __Host-authledger_session", Lifetime: 12 * time.Hour, IdleTimeout: 30 * time.Minute,
		Audience: []string{"web"}, Rotation: "new id on privilege change (step-up)", Storage: StorageSessionStore},
	{Name: Access, Form: "JWT", Lifetime: 10 * time.Minute, Audience: []string{"api", "edge"},
		Rotation: "expiry", Storage: StorageStateless, JWTType: "at+jwt"},
	{Name: Refresh, Form: "opaque AES-256-GCM sealed", Lifetime: 14 * 24 * time.Hour, Audience: []string{"token_service"},
		Rotation: "single use; reuse revokes the family", Storage: StorageLedger},
	{Name: M2M, Form: "JWT", Lifetime: 30 * time.Minute, Rotation: "expiry", Storage: StorageStateless, JWTType: "at+jwt"},
}

// clone is a copy of c that shares no memory with it.
func (c Class) clone() Class {
	c.Audience = slices.Clone(c.Audience)
	return c
}

// Bound returns the bound of class n, or the zero Class when n names no
// class (its JWTType is empty and its Lifetime zero, so nothing can be
// issued under it). The result is a copy.
func Bound(n ClassName) Class {
	for _, c := range classes {
		if c.Name == n {
			return c.clone()
		}
	}
	return Class{}
}

// Classes returns every class's bound, in the order of DESIGN.md §4's table
// (session, access, refresh, m2m). The result is a copy.
func Classes() []Class {
	out := make([]Class, len(classes))
	for i, c := range classes {
		out[i] = c.clone()
	}
	return out
}

// ErrLifetimeTooLong is returned when configuration asks for more than a class allows.
var ErrLifetimeTooLong = errors.New("token: lifetime longer than the class allows")

// Policy is the configured lifetimes, each at most its class bound.
type Policy struct {
	classes map[ClassName]Class
}

// NewPolicy applies overrides (zero means the class default) and refuses
// any that lengthen a class past its bound or are negative.
func NewPolicy(lifetimes map[ClassName]time.Duration, sessionIdle time.Duration) (Policy, error) {
	p := Policy{classes: make(map[ClassName]Class, len(classes))}
	var errs []error
	for _, c := range Classes() {
		n := c.Name
		if d, ok := lifetimes[n]; ok && d != 0 {
			if d < 0 || d > c.Lifetime {
				errs = append(errs, fmt.Errorf("%w: %s lifetime %s, bound %s", ErrLifetimeTooLong, n, d, c.Lifetime))
			} else {
				c.Lifetime = d
			}
		}
		if n == Session && sessionIdle != 0 {
			if sessionIdle < 0 || sessionIdle > c.IdleTimeout {
				errs = append(errs, fmt.Errorf("%w: session idle timeout %s, bound %s", ErrLifetimeTooLong, sessionIdle, c.IdleTimeout))
			} else {
				c.IdleTimeout = sessionIdle
			}
		}
		p.classes[n] = c
	}
	return p, errors.Join(errs...)
}

// DefaultPolicy is the class table unchanged.
func DefaultPolicy() Policy {
	p, _ := NewPolicy(nil, 0)
	return p
}

// Class returns the configured class n (a copy), or its bound when p is the
// zero Policy; the zero Class when n names no class.
func (p Policy) Class(n ClassName) Class {
	if c, ok := p.classes[n]; ok {
		return c.clone()
	}
	return Bound(n)
}
