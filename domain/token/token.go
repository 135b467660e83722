package token

import (
	"errors"
	"time"

	"github.com/authledger/authledger/domain/event"
)

// TypeAccessTokenRevoked is an RFC 7009 revocation of one access JWT,
// recorded in the token's own stream.
const TypeAccessTokenRevoked = "token.access_revoked.v1"

// Event is one event of a token-<jti> stream.
type Event interface{ EventType() string }

// AccessTokenRevoked revokes one access token until it expires.
type AccessTokenRevoked struct {
	JTI       string    `json:"jti"`
	ClientID  string    `json:"client_id,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
	At        time.Time `json:"at"`
}

// EventType implements Event.
func (AccessTokenRevoked) EventType() string { return TypeAccessTokenRevoked }

var codec = event.NewCodec[Event]("token", event.Lenient(),
	event.Register[IssuedEvent](),
	event.Register[AccessTokenRevoked](),
)

// Decode turns a stored event into its newest shape. The codec is
// lenient: an unknown type yields (nil, nil), so a stream may carry events
// this version does not know and readers skip them.
func Decode(typ string, data []byte) (Event, error) { return codec.Decode(typ, data) }

// Token is the aggregate of one issued JWT's stream: its issuance and at
// most one revocation. Revocation decides on the stream, not on a read
// model, so two concurrent revocations of one token append once.
type Token struct {
	jti     string
	version uint64
	revoked bool
	pending []Event
}

// Load folds token jti's stream events (in version order).
func Load(jti string, events []Event) *Token {
	t := &Token{jti: jti}
	for _, e := range events {
		t.apply(e)
		t.version++
	}
	return t
}

// Stream is the token's ledger stream.
func (t *Token) Stream() string { return Stream(t.jti) }

// Version is the stream version the token was loaded at.
func (t *Token) Version() uint64 { return t.version }

// Pending returns the events decided since Load.
func (t *Token) Pending() []Event { return t.pending }

// Revoked reports whether the token is revoked.
func (t *Token) Revoked() bool { return t.revoked }

// ErrAlreadyIssued: Issue on a token stream that has events.
var ErrAlreadyIssued = errors.New("token: already issued")

// Issue records the issuance of a new token: the first event of its stream.
func (t *Token) Issue(e IssuedEvent) error {
	if t.version > 0 || len(t.pending) > 0 || e.JTI != t.jti {
		return ErrAlreadyIssued
	}
	t.apply(e)
	t.pending = append(t.pending, e)
	return nil
}

func (t *Token) apply(e Event) {
	if _, ok := e.(AccessTokenRevoked); ok {
		t.revoked = true
	}
}

// Revoke decides the revocation of an access token issued to clientID that
// expires at expiresAt. It decides nothing for a token already revoked or
// already expired (RFC 7009 §2.2: both answer success) and reports whether
// it decided.
func (t *Token) Revoke(clientID string, expiresAt, now time.Time) bool {
	if t.revoked || !now.Before(expiresAt) {
		return false
	}
	e := AccessTokenRevoked{JTI: t.jti, ClientID: clientID, ExpiresAt: expiresAt, At: now}
	t.apply(e)
	t.pending = append(t.pending, e)
	return true
}
