// Package passkey holds the write models of passkey sign-in (WebAuthn):
// the credentials of one subject (registered, used with their sign
// counter, renamed, removed, a clone warning when the counter goes back,
// sign-ins that succeeded or failed and why) and the one-time enrolment
// links an operator mints for a subject's first passkey. It is pure: the
// WebAuthn ceremony itself (signatures, origins, the RP id) is verified
// by the login package with go-webauthn before anything here decides.
// Events hold credential ids and public keys, never a secret: an
// enrolment secret appears only as its SHA-256.
package passkey
