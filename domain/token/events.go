package token

import "time"

// TypeIssued is recorded in stream "token-<jti>" for every JWT signed. It
// lives in domain/ so that the signer (commands) and the read models that
// fold it (revocations) share one definition.
const TypeIssued = "token.issued.v1"

// Stream is the ledger stream of one issued token: its issuance and, later,
// its revocation.
func Stream(jti string) string { return "token-" + jti }

// IssuedEvent describes an issued JWT without the token itself: a leaked
// ledger must not hand out working credentials.
type IssuedEvent struct {
	JTI       string    `json:"jti"`
	Class     ClassName `json:"class"`
	Subject   string    `json:"sub"`
	ClientID  string    `json:"client_id"`
	Audience  []string  `json:"aud"`
	Scope     string    `json:"scope,omitempty"`
	SessionID string    `json:"sid,omitempty"`
	FamilyID  string    `json:"family,omitempty"`
	KeyID     string    `json:"kid"`
	IssuedAt  time.Time `json:"iat"`
	ExpiresAt time.Time `json:"exp"`
	// JKT is the DPoP key thumbprint the token is bound to (cnf.jkt), so
	// an auditor sees which key could use it. Absent for bearer tokens.
	JKT string `json:"jkt,omitempty"`
}

// EventType implements the events' common interface.
func (IssuedEvent) EventType() string { return TypeIssued }
