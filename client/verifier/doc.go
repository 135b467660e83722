// Package verifier is what other Go services import to accept authledger's
// access and M2M tokens (RFC 9068) statelessly: a Verifier that checks
// EdDSA signatures against a KeySource and every claim with an explicit
// leeway, a Remote KeySource that caches the issuer's JWKS (honouring
// Cache-Control, refetching on an unknown kid with singleflight and a rate
// limit), a Revocation hook (by jti and sid, and by client_id when it also
// implements ClientRevocation), a Follower of authledger's revocation feed
// that is such a hook, and net/http middleware (RFC 6750) that puts typed
// Claims in the request context (client/echoverifier is the same for Echo,
// a module of its own so this package imports no web framework). Once the
// JWKS is cached, verification touches neither network nor database.
//
// Header parameters and claims are read in one strict pass: names match
// exactly (a "SUB" is an unknown claim, ignored, never the "sub"), and a
// repeated name or data after the JSON object refuses the token with
// ErrMalformed (RFC 7515 §4, RFC 7519 §4), so the verifier never reads a
// token differently from a stricter parser in front of it.
package verifier
