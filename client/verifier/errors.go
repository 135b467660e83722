package verifier

import "errors"

// One sentinel per failure mode, so callers and tests can tell them apart
// with errors.Is. Their text is safe to show to a client.
var (
	ErrNoToken           = errors.New("verifier: no bearer token")
	ErrTokenTooLarge     = errors.New("verifier: token exceeds the size limit")
	ErrMalformed         = errors.New("verifier: malformed token")
	ErrUnsupportedAlg    = errors.New("verifier: algorithm not allowed (EdDSA only)")
	ErrWrongType         = errors.New("verifier: typ header is not at+jwt")
	ErrInvalidKID        = errors.New("verifier: missing or invalid kid")
	ErrUnknownKey        = errors.New("verifier: unknown signing key")
	ErrKeyRevoked        = errors.New("verifier: signing key revoked")
	ErrBadSignature      = errors.New("verifier: signature invalid")
	ErrMissingClaim      = errors.New("verifier: required claim missing")
	ErrWrongIssuer       = errors.New("verifier: wrong issuer")
	ErrWrongAudience     = errors.New("verifier: wrong audience")
	ErrExpired           = errors.New("verifier: token expired")
	ErrNotYetValid       = errors.New("verifier: token not yet valid")
	ErrIssuedInFuture    = errors.New("verifier: token issued in the future")
	ErrRevoked           = errors.New("verifier: token revoked")
	ErrInsufficientScope = errors.New("verifier: insufficient scope")
	// JWKS problems.
	ErrInvalidJWKS     = errors.New("verifier: invalid JWKS")
	ErrDuplicateKID    = errors.New("verifier: JWKS has duplicate kids")
	ErrJWKSUnavailable = errors.New("verifier: JWKS unavailable")
	// ErrJWKSStale: the cached JWKS is older than max-age + MaxStale and
	// could not be refreshed, so no key from it is trusted any more.
	ErrJWKSStale = errors.New("verifier: cached JWKS too stale to trust")
)
