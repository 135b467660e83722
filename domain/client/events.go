package client

import (
	"time"

	"authledger/domain/event"
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

// Registered starts a client's stream.
type Registered struct {
	Client    ID        `json:"client_id"`
	Name      string    `json:"name"`
	Scopes    []string  `json:"scopes"`
	Audiences []string  `json:"audiences"`
	At        time.Time `json:"at"`
}

// SecretAdded records a secret by its hash only (see HashSecret).
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

// ScopesChanged replaces the scopes the client may request.
type ScopesChanged struct {
	Scopes []string  `json:"scopes"`
	At     time.Time `json:"at"`
}

// AudiencesChanged replaces the audiences the client may request.
type AudiencesChanged struct {
	Audiences []string  `json:"audiences"`
	At        time.Time `json:"at"`
}

// Disabled stops every credential of the client; it is final.
type Disabled struct {
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
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
