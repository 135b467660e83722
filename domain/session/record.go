package session

import (
	"errors"
	"time"
)

// ErrUnavailable: the session store (Redis) cannot be reached. Session
// endpoints answer 503 rather than guess; nothing else depends on it.
var ErrUnavailable = errors.New("session: session store unavailable")

// Record is what the session store keeps under the SHA-256 of a session
// token: enough to mint access tokens without reading the ledger, and the
// two timestamps the expiry rule needs. It never holds the token.
type Record struct {
	ID        string    `json:"id"`
	Subject   string    `json:"subject"`
	ClientID  string    `json:"client_id"`
	ACR       string    `json:"acr,omitempty"`
	AMR       []string  `json:"amr,omitempty"`
	AuthTime  time.Time `json:"auth_time"`
	Family    string    `json:"family,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
	// TokenHash is the hex SHA-256 of the current session token.
	TokenHash string `json:"token_hash"`
}
