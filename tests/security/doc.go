// Package security holds the attack-shaped tests of token verification and
// key rotation (issue 4): forged algorithms, injected kids, stripped or
// foreign signatures, bad claims, revoked keys, hostile JWKS documents and
// an unreachable JWKS endpoint. Each case asserts the precise sentinel
// error of client/verifier. Time is injected; nothing sleeps.
package security
