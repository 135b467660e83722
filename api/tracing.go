package api

import (
	"errors"

	"go.opentelemetry.io/otel"

	"github.com/authledger/authledger/domain/oauth"
)

// tracer names the API's own spans (internal/telemetry installs the
// provider; without one they cost next to nothing).
var tracer = otel.Tracer("github.com/authledger/authledger/api")

// errorCode is what a span may say about a failure: the RFC 6749 code or
// the problem type, never the error's text, which can carry detail meant
// for the log only.
func errorCode(err error) string {
	var oe *oauth.Error
	if errors.As(err, &oe) {
		return oe.Code
	}
	var p *Problem
	if errors.As(err, &p) {
		return p.Type
	}
	return "error"
}
