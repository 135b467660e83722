package keyring

import "errors"

var (
	// ErrUnknownKey: no key with that kid was ever published.
	ErrUnknownKey = errors.New("keyring: unknown key")
	// ErrKeyRevoked: the key is already revoked.
	ErrKeyRevoked = errors.New("keyring: key revoked")
	// ErrKeyDropped: the key already left the JWKS; there is nothing to revoke.
	ErrKeyDropped = errors.New("keyring: key dropped")
	// ErrRotationPending: a published key is waiting for its lead to pass;
	// an ordinary rotation would only publish another one.
	ErrRotationPending = errors.New("keyring: a next key is already published")
	// ErrDuplicateKey: the kid is already in the ring.
	ErrDuplicateKey = errors.New("keyring: duplicate kid")
	// ErrInvalidKey: the new key's JWK or secret reference is unusable.
	ErrInvalidKey = errors.New("keyring: invalid key")
	// ErrInvalidPolicy is matched by every Policy.Validate error.
	ErrInvalidPolicy = errors.New("keyring: invalid policy")
	// ErrUnknownEvent: a stored event type this version does not know.
	ErrUnknownEvent = errors.New("keyring: unknown event type")
)
