package client

import "errors"

var (
	ErrUnknownEvent       = errors.New("client: unknown event type")
	ErrInvalidID          = errors.New("client: invalid client id")
	ErrInvalidName        = errors.New("client: invalid name")
	ErrInvalidScope       = errors.New("client: invalid scope")
	ErrInvalidAudience    = errors.New("client: invalid audience")
	ErrNoCredential       = errors.New("client: a client needs a secret or a public key")
	ErrAlreadyRegistered  = errors.New("client: already registered")
	ErrNotRegistered      = errors.New("client: not registered")
	ErrDisabled           = errors.New("client: disabled")
	ErrUnknownSecret      = errors.New("client: unknown secret")
	ErrUnknownKey         = errors.New("client: unknown key")
	ErrDuplicateKey       = errors.New("client: key already registered")
	ErrLastCredential     = errors.New("client: would remove the last credential")
	ErrInvalidJWK         = errors.New("client: invalid public JWK")
	ErrPrivateJWK         = errors.New("client: JWK holds private key material; register the public key only")
	ErrInvalidSecretHash  = errors.New("client: invalid secret hash")
	ErrInvalidPepper      = errors.New("client: the secret pepper must hold at least 32 bytes")
	ErrScopeNotAllowed    = errors.New("client: scope not granted")
	ErrAudienceNotAllowed = errors.New("client: audience not allowed")
	ErrTooManyKeys        = errors.New("client: too many keys")
	// ErrDPoPRequired: the client is registered with
	// dpop_bound_access_tokens and asked for a token without a DPoP proof.
	ErrDPoPRequired = errors.New("client: this client must use DPoP")
)
