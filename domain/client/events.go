package client

import (
	"time"

	"github.com/authledger/authledger/domain/event"
	"github.com/authledger/authledger/domain/token"
)

// Stored event names. They are part of the ledger's history: never derive
// them from Go type names, never rename them; a breaking change is a .v2.
const (
	TypeRegistered       = "client.registered.v1"
	TypeSecretAdded      = "client.secret_added.v1"
	TypeSecretRotated    = "client.secret_rotated.v1"
	TypeSecretRevoked    = "client.secret_revoked.v1"
	TypeKeyAdded         = "client.key_added.v1"
	TypeKeyRemoved       = "client.key_removed.v1"
	TypeScopesChanged    = "client.scopes_changed.v1"
	TypeAudiencesChanged = "client.audiences_changed.v1"
	TypeDisabled         = "client.disabled.v1"
)

// EventTypes lists every event of the aggregate, for projections that
// subscribe to the whole registry.
var EventTypes = []string{
	TypeRegistered, TypeSecretAdded, TypeSecretRotated, TypeSecretRevoked,
	TypeKeyAdded, TypeKeyRemoved, TypeScopesChanged, TypeAudiencesChanged, TypeDisabled,
}

// Event is one fact about a client.
type Event interface{ EventType() string }

// Registered starts a client's stream. Privileged records which of the
// grants are authledger's own powers (absent when none, and in events
// recorded before it existed: an optional field, not a new version).
type Registered struct {
	Client     ID         `json:"client_id"`
	Name       string     `json:"name"`
	Scopes     []string   `json:"scopes"`
	Audiences  []string   `json:"audiences"`
	Privileged Privileges `json:"privileged,omitzero"`
	// RateLimit is the client's own request budget, if it was given one;
	// an optional field, so events without it read as before.
	RateLimit *RateLimit `json:"rate_limit,omitempty"`
	// DPoPBound (RFC 9449 §5.2, registration metadata
	// dpop_bound_access_tokens) makes DPoP mandatory: every token request
	// of the client must carry a proof. Absent means false.
	DPoPBound bool `json:"dpop_bound_access_tokens,omitempty"`
	// DPoPNonce makes the client's proofs carry a server nonce (RFC 9449
	// §8). Absent means false.
	DPoPNonce bool      `json:"dpop_nonce_required,omitempty"`
	At        time.Time `json:"at"`
}

// SecretAdded records a secret by its hash only: v2 (Pepper.Hash) for
// every new secret, v1 in events recorded before v2 (see HashSecretV1).
type SecretAdded struct {
	SecretID string    `json:"secret_id"`
	Hash     string    `json:"hash"`
	At       time.Time `json:"at"`
}

// SecretRotated adds a new secret and bounds every older live secret to
// the end of the rotation window, so deployments can roll over without an
// outage.
type SecretRotated struct {
	SecretID      string    `json:"secret_id"`
	Hash          string    `json:"hash"`
	PreviousUntil time.Time `json:"previous_until"`
	At            time.Time `json:"at"`
}

// SecretRevoked ends one secret at once.
type SecretRevoked struct {
	SecretID string    `json:"secret_id"`
	At       time.Time `json:"at"`
}

// KeyAdded registers a public Ed25519 JWK for private_key_jwt.
type KeyAdded struct {
	Key PublicKey `json:"key"`
	At  time.Time `json:"at"`
}

// KeyRemoved withdraws a public key.
type KeyRemoved struct {
	KeyID string    `json:"kid"`
	At    time.Time `json:"at"`
}

// ScopesChanged replaces the scopes the client may request; Privileged
// lists the privileged ones among them (optional, as in Registered).
type ScopesChanged struct {
	Scopes     []string  `json:"scopes"`
	Privileged []string  `json:"privileged,omitempty"`
	At         time.Time `json:"at"`
}

// AudiencesChanged replaces the audiences the client may request;
// Privileged lists the privileged ones among them.
type AudiencesChanged struct {
	Audiences  []string  `json:"audiences"`
	Privileged []string  `json:"privileged,omitempty"`
	At         time.Time `json:"at"`
}

// Disabled stops every credential of the client; it is final. It also
// revokes every token naming the client (client_id) that may still be
// unexpired: the revocation set keeps the client until AccessUntil.
type Disabled struct {
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
	// AccessUntil is the latest expiry of a token the client may hold
	// (At + TokenHorizon). Events recorded before it existed lack it;
	// Until derives it.
	AccessUntil time.Time `json:"access_until,omitzero"`
}

// TokenHorizon is how long after a client is disabled a token naming it
// may still be unexpired. An M2M token minted just before lives for its
// class bound (30 min); a session the client started lives up to the
// session bound (12 h) and can mint access tokens (10 min) until its end,
// so the horizon is the longer of the two. Class bounds can only shorten
// (token.Bound), so this always covers the configured lifetimes.
func TokenHorizon() time.Duration {
	return max(token.Bound(token.M2M).Lifetime, token.Bound(token.Session).Lifetime+token.Bound(token.Access).Lifetime)
}

// Until is when the last token naming the disabled client has expired:
// AccessUntil, or for an event recorded without it, At + TokenHorizon.
func (d Disabled) Until() time.Time {
	if !d.AccessUntil.IsZero() {
		return d.AccessUntil
	}
	return d.At.Add(TokenHorizon())
}

func (Registered) EventType() string       { return TypeRegistered }
func (SecretAdded) EventType() string      { return TypeSecretAdded }
func (SecretRotated) EventType() string    { return TypeSecretRotated }
func (SecretRevoked) EventType() string    { return TypeSecretRevoked }
func (KeyAdded) EventType() string         { return TypeKeyAdded }
func (KeyRemoved) EventType() string       { return TypeKeyRemoved }
func (ScopesChanged) EventType() string    { return TypeScopesChanged }
func (AudiencesChanged) EventType() string { return TypeAudiencesChanged }
func (Disabled) EventType() string         { return TypeDisabled }

// Decode turns a stored event back into its newest shape. The codec is
// strict: an unknown type fails with ErrUnknownEvent (and
// event.ErrUnknownType), because a skipped event could leave a revoked
// secret or a removed key accepted.
func Decode(typ string, data []byte) (Event, error) { return codec.Decode(typ, data) }

var codec = event.NewCodec[Event]("client", event.Strict(ErrUnknownEvent),
	event.Register[Registered](),
	event.Register[SecretAdded](),
	event.Register[SecretRotated](),
	event.Register[SecretRevoked](),
	event.Register[KeyAdded](),
	event.Register[KeyRemoved](),
	event.Register[ScopesChanged](),
	event.Register[AudiencesChanged](),
	event.Register[Disabled](),
)
