package token

import "time"

// Claims are what a signer puts into an access or M2M JWT (RFC 9068;
// DESIGN.md §4). The signer adds iss, iat, nbf, exp and jti.
type Claims struct {
	Class    ClassName // Access or M2M: picks typ and lifetime bound
	Subject  string
	ClientID string
	Audience []string
	Scope    []string
	// User tokens only.
	SessionID string
	FamilyID  string // refresh family the token was minted from, if any
	AuthTime  time.Time
	ACR       string
	AMR       []string
	// Lifetime, if set, shortens the class lifetime.
	Lifetime time.Duration
}

// Issued is a signed token and what the issuer recorded about it.
type Issued struct {
	Raw       string
	JTI       string
	KeyID     string
	IssuedAt  time.Time
	ExpiresAt time.Time
}
