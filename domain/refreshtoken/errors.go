package refreshtoken

import "errors"

// Errors mean "cannot act"; reuse is an Outcome, not an error, so the caller
// still appends the revocation it decided.
var (
	// ErrMalformed: the value is not a sealed refresh token of this service
	// (bad shape, unknown sealing key, failed authentication).
	ErrMalformed = errors.New("refreshtoken: malformed or forged token")
	// ErrExpired: the token's expiry has passed.
	ErrExpired = errors.New("refreshtoken: token expired")
	// ErrFamilyRevoked: the family was revoked; none of its tokens work.
	ErrFamilyRevoked = errors.New("refreshtoken: family revoked")
	// ErrUnknownToken: the token does not belong to the family's history.
	ErrUnknownToken = errors.New("refreshtoken: unknown token")
	// ErrWrongClient: the token was issued to another client (RFC 6749 §6).
	ErrWrongClient = errors.New("refreshtoken: token bound to another client")
	// ErrUnknownFamily: no family stream exists for the token.
	ErrUnknownFamily = errors.New("refreshtoken: unknown family")
	// ErrAlreadyStarted: Start on a family that has events.
	ErrAlreadyStarted = errors.New("refreshtoken: family already started")
	// ErrBadGrace: a grace period outside [0, MaxGrace].
	ErrBadGrace = errors.New("refreshtoken: grace period must be between 0 and 30s")
	// ErrIncompleteStart: Start without the family's id, its first token,
	// the client or the subject.
	ErrIncompleteStart = errors.New("refreshtoken: start needs family, token, client and subject")
	// ErrNoBound: Start without the family's absolute bound (NotAfter).
	ErrNoBound = errors.New("refreshtoken: start needs the family's bound")
	// ErrBoundTooLong: Start with a bound past the refresh class lifetime.
	ErrBoundTooLong = errors.New("refreshtoken: a family's bound may not exceed the refresh class lifetime")
	// ErrFirstOutlivesBound: Start with a first token expiring after the
	// family's bound.
	ErrFirstOutlivesBound = errors.New("refreshtoken: the first token may not outlive the family's bound")
	// ErrSuccessorNotNew: Rotate with a successor id that is zero or was
	// already part of the family.
	ErrSuccessorNotNew = errors.New("refreshtoken: successor id must be new")
	// ErrKeyMismatch: the family is bound to a DPoP key (RFC 9449 §5) and
	// the refresh came without a proof by that key.
	ErrKeyMismatch = errors.New("refreshtoken: family bound to another DPoP key")
)
