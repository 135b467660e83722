// Package login is authledger's own sign-in module (docs/login.md): the
// passkey (WebAuthn) ceremonies under /login, checked with go-webauthn,
// and the pages that run them. It is a client of the token commands like
// any trusted login service: a successful sign-in starts a session through
// the same command as POST /v1/sessions, and every step (a registration,
// a sign-in that passed or failed and why, a clone warning) is an event in
// the ledger, decided by domain/passkey.
//
// Ceremony state (the WebAuthn challenge) lives server-side in a
// Challenges store, keyed by the SHA-256 of a short-lived HttpOnly cookie:
// single use, five minutes.
package login
