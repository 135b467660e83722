// Package keyring is the signing-key ring aggregate (stream "keyring"): which
// Ed25519 keys are published, which one signs, which are retired or revoked,
// and the Policy that times rotation (DESIGN.md §4 "Keys"). It is pure: no
// I/O, time is passed in, and events carry the public JWK and a reference
// into the secret provider, never private material.
package keyring
