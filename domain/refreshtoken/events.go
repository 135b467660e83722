package refreshtoken

import "time"

// Stored event names. They are part of the ledger format: renaming a Go type
// must never change them.
const (
	TypeStarted       = "refreshtoken.family_started.v1"
	TypeRotated       = "refreshtoken.rotated.v1"
	TypeReuseDetected = "refreshtoken.reuse_detected.v1"
	TypeRevoked       = "refreshtoken.family_revoked.v1"
	// TypeRejected is the audit record of a presentation that could not be
	// acted on (malformed, forged, expired, wrong client). It is appended to
	// RejectionsStream, never to a family stream, so a forged token cannot
	// touch a family's version.
	TypeRejected = "refreshtoken.presentation_rejected.v1"
)

// RejectionsStream holds TypeRejected events.
const RejectionsStream = "refreshtoken-rejections"

// Event is one family event.
type Event interface{ EventType() string }

// Started opens a family with its first token (generation 1). It holds ids,
// never the token.
type Started struct {
	Family    FamilyID  `json:"family"`
	ClientID  string    `json:"client_id"`
	Subject   string    `json:"subject"`
	SessionID string    `json:"session_id,omitempty"`
	Scope     []string  `json:"scope,omitempty"`
	ACR       string    `json:"acr,omitempty"`
	AMR       []string  `json:"amr,omitempty"`
	AuthTime  time.Time `json:"auth_time"`
	Token     TokenID   `json:"token"`
	KeyID     string    `json:"key_id"`
	ExpiresAt time.Time `json:"expires_at"`
	At        time.Time `json:"at"`
	// NotAfter is the family's absolute bound (see AbsoluteBound): no token
	// of the family lives past it, however often it rotates. Every new
	// start carries it; Decode upcasts a start recorded before the field
	// existed to one whose bound is derived from At (see decode.go).
	NotAfter time.Time `json:"not_after,omitempty"`
	// JKT binds the family to a DPoP key (RFC 9449 §5): the RFC 7638
	// thumbprint of the key whose proofs every refresh must carry. Absent
	// for a family started without DPoP.
	JKT string `json:"jkt,omitempty"`
}

// Rotated spends From and makes To (generation Generation) current. KeyID and
// ExpiresAt, with the ids, are all that is needed to re-seal To
// deterministically for a retry within the grace period (see Codec).
type Rotated struct {
	Family     FamilyID  `json:"family"`
	From       TokenID   `json:"from"`
	To         TokenID   `json:"to"`
	Generation uint64    `json:"generation"`
	KeyID      string    `json:"key_id"`
	ExpiresAt  time.Time `json:"expires_at"`
	At         time.Time `json:"at"`
}

// ReuseDetected records that a spent token was presented again.
type ReuseDetected struct {
	Family     FamilyID  `json:"family"`
	Presented  TokenID   `json:"presented"`
	Generation uint64    `json:"generation"`
	ClientID   string    `json:"client_id,omitempty"`
	At         time.Time `json:"at"`
}

// Revoked ends the family. Reason is "reuse", "revoked" (RFC 7009),
// "session_ended" or "logout".
type Revoked struct {
	Family    FamilyID  `json:"family"`
	Reason    string    `json:"reason"`
	SessionID string    `json:"session_id,omitempty"`
	At        time.Time `json:"at"`
	// AccessUntil is when the last access token minted from the family
	// expires; revocation sets may forget the family after it.
	AccessUntil time.Time `json:"access_until"`
}

// Rejected is the audit record of a refused presentation. Reason is a short
// machine word; Family and Token are set only when the token opened.
type Rejected struct {
	Reason   string    `json:"reason"`
	ClientID string    `json:"client_id,omitempty"`
	Family   *FamilyID `json:"family,omitempty"`
	Token    *TokenID  `json:"token,omitempty"`
	// JKT is the DPoP key thumbprint the refused refresh presented, when
	// the reason is a key that is not the family's ("" for no proof).
	JKT string    `json:"jkt,omitempty"`
	At  time.Time `json:"at"`
}

func (Started) EventType() string       { return TypeStarted }
func (Rotated) EventType() string       { return TypeRotated }
func (ReuseDetected) EventType() string { return TypeReuseDetected }
func (Revoked) EventType() string       { return TypeRevoked }
func (Rejected) EventType() string      { return TypeRejected }
