// Package security holds the attack-shaped tests of token verification and
// key rotation (issue 4): forged algorithms, injected kids, stripped or
// foreign signatures, bad claims, revoked keys, hostile JWKS documents and
// an unreachable JWKS endpoint. Each case asserts the precise sentinel
// error of client/verifier. Time is injected; nothing sleeps.
//
// The end-to-end tests (issue 10) attack the real binary instead, built
// once and run with e2eharness: TestLockoutFloodOnTheRealBinary floods
// the token endpoint with wrong secrets and made-up client ids behind a
// trusted proxy and checks that correct credentials are never refused.
// They skip under -short.
package security
