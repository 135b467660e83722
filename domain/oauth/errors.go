// Package oauth holds the OAuth 2.0 error vocabulary (RFC 6749 §5.2,
// RFC 7009, RFC 7662, RFC 8707) shared by commands and the HTTP layer.
// It carries the codes, client-visible hints and log-only debug text only;
// which HTTP status answers a code is the HTTP layer's business
// (api/errors.go).
package oauth

// Error is an RFC 6749 error. Sentinels are enriched by copy (WithHint,
// WithDebug) so errors.Is still matches the sentinel: Hint reaches the
// client as error_description, Debug only reaches the log.
type Error struct {
	Code  string // error
	Hint  string // error_description, safe for clients
	Debug string // for logs only; never sent
}

func (e *Error) Error() string {
	if e.Hint != "" {
		return e.Code + ": " + e.Hint
	}
	return e.Code
}

// Is matches any *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// WithHint returns a copy with a client-visible description.
func (e *Error) WithHint(hint string) *Error { c := *e; c.Hint = hint; return &c }

// WithDebug returns a copy with a log-only detail.
func (e *Error) WithDebug(debug string) *Error { c := *e; c.Debug = debug; return &c }

var (
	ErrInvalidRequest       = &Error{Code: "invalid_request"}
	ErrInvalidClient        = &Error{Code: "invalid_client"}
	ErrInvalidGrant         = &Error{Code: "invalid_grant"}
	ErrUnauthorizedClient   = &Error{Code: "unauthorized_client"}
	ErrUnsupportedGrantType = &Error{Code: "unsupported_grant_type"}
	ErrInvalidScope         = &Error{Code: "invalid_scope"}
	ErrInvalidTarget        = &Error{Code: "invalid_target"}         // RFC 8707
	ErrUnsupportedTokenType = &Error{Code: "unsupported_token_type"} // RFC 7009
	ErrSlowDown             = &Error{Code: "slow_down"}
	ErrServerError          = &Error{Code: "server_error"}
	ErrTemporarilyUnavail   = &Error{Code: "temporarily_unavailable"}
	// RFC 9449 §5, §8: a DPoP proof that does not hold, or a missing or
	// stale server nonce (the answer carries a fresh DPoP-Nonce).
	ErrInvalidDPoPProof = &Error{Code: "invalid_dpop_proof"}
	ErrUseDPoPNonce     = &Error{Code: "use_dpop_nonce"}
)
