package keyring

import "time"

// Stream is the one stream of the key ring; every instance appends to it
// with an expected version, so concurrent rotations produce exactly one key.
const Stream = "keyring"

// Stored event types. They are part of the ledger format: never derive them
// from Go names, never change them; a breaking change is a new .v2.
const (
	// TypeKeyPublished: a new key was generated and is in the JWKS. It signs
	// nothing until activated (after the publication lead).
	TypeKeyPublished = "keyring.key_published.v1"
	// TypeKeyActivated: the key now signs; the previous active key is retired
	// in the same append.
	TypeKeyActivated = "keyring.key_activated.v1"
	// TypeKeyRetired: the key signs nothing more but stays published until
	// DropAt, when every token it signed has expired.
	TypeKeyRetired = "keyring.key_retired.v1"
	// TypeKeyDropped: the key left the JWKS at the end of its tail (or was a
	// pending key superseded by an emergency rotation and never signed).
	TypeKeyDropped = "keyring.key_dropped.v1"
	// TypeKeyRevoked: the key is compromised; it leaves the JWKS at once and
	// every token it signed must fail verification.
	TypeKeyRevoked = "keyring.key_revoked.v1"
)

// Types lists every key ring event type, for projections that subscribe.
var Types = []string{TypeKeyPublished, TypeKeyActivated, TypeKeyRetired, TypeKeyDropped, TypeKeyRevoked}

// Event is one key ring event.
type Event interface{ EventType() string }

// PublicJWK is an Ed25519 public key as an RFC 8037 OKP JWK.
type PublicJWK struct {
	Kty string `json:"kty"` // "OKP"
	Crv string `json:"crv"` // "Ed25519"
	X   string `json:"x"`   // base64url, no padding
	Kid string `json:"kid"`
	Use string `json:"use"` // "sig"
	Alg string `json:"alg"` // "EdDSA"
}

// SecretRef says where the private key lives in the secret provider. It is
// a name and a version, never the key itself.
type SecretRef struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// KeyPublished is recorded when a key is generated and published.
type KeyPublished struct {
	KID        string    `json:"kid"`
	JWK        PublicJWK `json:"jwk"`
	Secret     SecretRef `json:"secret"`
	At         time.Time `json:"at"`
	ActivateAt time.Time `json:"activate_at"`
}

// KeyActivated is recorded when a key starts signing.
type KeyActivated struct {
	KID string    `json:"kid"`
	At  time.Time `json:"at"`
}

// KeyRetired is recorded when a key stops signing.
type KeyRetired struct {
	KID    string    `json:"kid"`
	At     time.Time `json:"at"`
	DropAt time.Time `json:"drop_at"`
}

// KeyDropped is recorded when a key leaves the JWKS in the ordinary way.
type KeyDropped struct {
	KID string    `json:"kid"`
	At  time.Time `json:"at"`
}

// KeyRevoked is recorded when a key is revoked after a compromise.
type KeyRevoked struct {
	KID    string    `json:"kid"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
}

func (KeyPublished) EventType() string { return TypeKeyPublished }
func (KeyActivated) EventType() string { return TypeKeyActivated }
func (KeyRetired) EventType() string   { return TypeKeyRetired }
func (KeyDropped) EventType() string   { return TypeKeyDropped }
func (KeyRevoked) EventType() string   { return TypeKeyRevoked }
