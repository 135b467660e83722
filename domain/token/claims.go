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
	// JKT, if set, binds the token to a DPoP key: the key's RFC 7638
	// thumbprint goes into cnf.jkt (RFC 9449 §6.1) and into the ledger.
	JKT string
}

// Issued is a signed token and what the issuer recorded about it.
type Issued struct {
	Raw       string
	JTI       string
	KeyID     string
	IssuedAt  time.Time
	ExpiresAt time.Time
	// JKT is the DPoP key the token is bound to ("" for a bearer token).
	JKT string
}

// AccessClaims is what a verified access or M2M JWT says, for revocation,
// introspection and authledger's own bearer checks.
type AccessClaims struct {
	Issuer    string
	Subject   string
	Audience  []string
	ClientID  string
	Scope     string
	JTI       string
	SessionID string
	ACR       string
	IssuedAt  time.Time
	NotBefore time.Time
	ExpiresAt time.Time
	// JKT is cnf.jkt: the DPoP key thumbprint the token is bound to, ""
	// for a bearer token.
	JKT string
}
