package session

import "time"

// Stored event names; part of the ledger format.
const (
	TypeStarted  = "session.started.v1"
	TypeElevated = "session.elevated.v1"
	TypeEnded    = "session.ended.v1"
)

// StreamPrefix starts every session stream ("session-<id>").
const StreamPrefix = "session-"

// Stream is the ledger stream of session id.
func Stream(id string) string { return StreamPrefix + id }

// Event is one session event.
type Event interface{ EventType() string }

// Started opens a session for a subject a login service authenticated.
type Started struct {
	ID       string    `json:"id"`
	Subject  string    `json:"subject"`
	ClientID string    `json:"client_id"` // the login service that started it
	ACR      string    `json:"acr,omitempty"`
	AMR      []string  `json:"amr,omitempty"`
	AuthTime time.Time `json:"auth_time"`
	// Family is the refresh family started with the session; ending the
	// session revokes it in the same append.
	Family    string    `json:"family,omitempty"`
	ExpiresAt time.Time `json:"expires_at"` // absolute expiry
	At        time.Time `json:"at"`
	// TokenHash is the hex SHA-256 of the session token (never the token),
	// so a session can be rebuilt from the ledger when the session store
	// lost it. Absent in sessions started before it was recorded.
	TokenHash string `json:"token_hash,omitempty"`
}

// Elevated records a step-up: the token was rotated and acr raised.
type Elevated struct {
	ID       string    `json:"id"`
	ACR      string    `json:"acr"`
	AMR      []string  `json:"amr,omitempty"`
	AuthTime time.Time `json:"auth_time"`
	ClientID string    `json:"client_id"`
	At       time.Time `json:"at"`
	// TokenHash is the hex SHA-256 of the rotated session token.
	TokenHash string `json:"token_hash,omitempty"`
}

// Ended closes the session. Reason is "logout", "revoked", "expired",
// "refresh_reuse" (a spent refresh token of its family came back) or
// "refresh_revoked" (its family was revoked under RFC 7009). Actor is the
// metadata actor of whoever ended it ("subject:<id>", "client:<id>").
// AccessUntil is when the last access token bound to it (sid) expires.
type Ended struct {
	ID          string    `json:"id"`
	Subject     string    `json:"subject"`
	Reason      string    `json:"reason"`
	Actor       string    `json:"actor,omitempty"`
	At          time.Time `json:"at"`
	AccessUntil time.Time `json:"access_until"`
}

func (Started) EventType() string  { return TypeStarted }
func (Elevated) EventType() string { return TypeElevated }
func (Ended) EventType() string    { return TypeEnded }
