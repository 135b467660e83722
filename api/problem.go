package api

import (
	"errors"
	"net/http"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/domain/session"
)

// Problem is an RFC 9457 problem details object.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Errors lists field-level problems of a rejected request body.
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError names one bad input field.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

func (p *Problem) Error() string { return p.Title + ": " + p.Detail }

// ProblemTypeBase prefixes problem type URIs; docs/api.md documents each.
const ProblemTypeBase = "https://authledger.dev/problems/"

// NewProblem builds a problem of a documented type.
func NewProblem(status int, typ, title, detail string) *Problem {
	return &Problem{Type: ProblemTypeBase + typ, Title: title, Status: status, Detail: detail}
}

// ProblemRule maps a sentinel error (matched with errors.Is) to a problem.
// The detail shown is the sentinel's own text, never the wrapped chain, so
// internal wording and identifiers do not leak.
type ProblemRule struct {
	Err    error
	Status int
	Type   string
	Title  string
}

// problemRules is the single error → HTTP mapping for non-OAuth endpoints.
// Packages' sentinels are added here, in one table, as they appear.
var problemRules = []ProblemRule{
	// Service registry (domain/client).
	{client.ErrNotRegistered, http.StatusNotFound, "service-not-found", "Service Not Found"},
	{client.ErrDisabled, http.StatusConflict, "service-disabled", "Service Disabled"},
	{client.ErrInvalidName, http.StatusBadRequest, "invalid-service", "Invalid Service"},
	{client.ErrInvalidRateLimit, http.StatusBadRequest, "invalid-service", "Invalid Service"},
	{client.ErrInvalidScope, http.StatusBadRequest, "invalid-service", "Invalid Service"},
	{client.ErrInvalidAudience, http.StatusBadRequest, "invalid-service", "Invalid Service"},
	{client.ErrNoCredential, http.StatusBadRequest, "invalid-service", "Invalid Service"},
	{client.ErrInvalidJWK, http.StatusBadRequest, "invalid-jwk", "Invalid JWK"},
	{client.ErrPrivateJWK, http.StatusBadRequest, "invalid-jwk", "Invalid JWK"},
	{client.ErrTooManyKeys, http.StatusBadRequest, "invalid-jwk", "Invalid JWK"},
	{client.ErrDuplicateKey, http.StatusConflict, "service-conflict", "Service Conflict"},
	{client.ErrLastCredential, http.StatusConflict, "service-conflict", "Service Conflict"},
	{client.ErrUnknownKey, http.StatusNotFound, "service-key-not-found", "Service Key Not Found"},
	{client.ErrUnknownSecret, http.StatusNotFound, "service-secret-not-found", "Service Secret Not Found"},
	// Sessions (domain/session). Unavailable first: a dead Redis must
	// answer 503, never a false "not found".
	{session.ErrUnavailable, http.StatusServiceUnavailable, "session-store-unavailable", "Session Store Unavailable"},
	{session.ErrNotFound, http.StatusNotFound, "session-not-found", "Session Not Found"},
	{session.ErrExpired, http.StatusUnauthorized, "session-invalid", "Unauthorized"},
	{session.ErrEnded, http.StatusConflict, "session-ended", "Session Ended"},
	{session.ErrInvalid, http.StatusBadRequest, "invalid-request", "Bad Request"},
	{session.ErrReservedSubject, http.StatusBadRequest, "invalid-subject", "Invalid Subject"},
	// Projections admin (api/admin_projections.go).
	{ErrProjectionNotFound, http.StatusNotFound, "projection-not-found", "Projection Not Found"},
	{ErrProjectionNotRebuildable, http.StatusConflict, "projection-not-rebuildable", "Projection Not Rebuildable"},
	// Signing keys (commands/signer.go): no active key is an outage, not a bug.
	{commands.ErrNoActiveKey, http.StatusServiceUnavailable, "signing-unavailable", "Signing Unavailable"},
	// Webhooks (api/webhooks.go).
	{ErrWebhookDisabled, http.StatusServiceUnavailable, "webhook-disabled", "Webhook Disabled"},
	{ErrWebhookSignature, http.StatusUnauthorized, "webhook-signature-invalid", "Unauthorized"},
}

func problemFor(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	for _, r := range problemRules {
		if errors.Is(err, r.Err) {
			return NewProblem(r.Status, r.Type, r.Title, r.Err.Error())
		}
	}
	return NewProblem(http.StatusInternalServerError, "internal", "Internal Server Error", "")
}
