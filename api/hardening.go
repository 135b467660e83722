package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/domain/oauth"
)

// DefaultMaxInFlight is the default cap on requests one instance serves at
// once. Past it a request is refused at once with 503 and Retry-After, so a
// burst queues at the load balancer (which can send it to another
// instance) instead of in this process's memory and the ledger's pool.
const DefaultMaxInFlight = 512

// OverloadRetryAfter is the Retry-After (seconds) of a request refused by
// the in-flight cap.
const OverloadRetryAfter = 1

// Hardening configures what New applies to every answer before routing.
// The zero value is safe: no HSTS, DefaultMaxInFlight. CORS is not here:
// the public documents (JWKS, metadata, OpenAPI) answer any origin in their
// own handlers, and the session-cookie endpoints only the configured
// AUTHLEDGER_ALLOWED_ORIGINS (Sessions.cors); every other route sends no
// CORS header, so no other origin's script can read it.
type Hardening struct {
	// HSTS sends Strict-Transport-Security; set it when the issuer is https.
	HSTS bool
	// MaxInFlight caps concurrent requests; 0 means DefaultMaxInFlight.
	// Liveness, readiness and metrics are never refused: an overloaded
	// instance must still say so.
	MaxInFlight int
}

// noStorePrefixes are the paths whose answers carry credentials or facts
// about them: token, introspection, revocation and session answers are
// never cached (RFC 6749 §5.1, RFC 7662 §4).
var noStorePrefixes = []string{"/oauth2/", "/v1/sessions", "/v1/session/", "/v1/me/"}

// exemptFromCap are the operator endpoints the in-flight cap never refuses.
var exemptFromCap = []string{"/healthz", "/readyz", "/metrics"}

func (h Hardening) middleware(m *Metrics) []echo.MiddlewareFunc {
	maxInFlight := h.MaxInFlight
	if maxInFlight <= 0 {
		maxInFlight = DefaultMaxInFlight
	}
	return []echo.MiddlewareFunc{securityHeaders(h.HSTS), inFlightCap(maxInFlight, m)}
}

// securityHeaders sets the headers of every answer before anything else
// runs, so they are on errors, 404s, 413s and refusals too.
func securityHeaders(hsts bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "no-referrer")
			// Every answer is JSON or YAML a browser could render; none is
			// meant to be framed (clickjacking).
			h.Set("X-Frame-Options", "DENY")
			h.Set("Content-Security-Policy", "frame-ancestors 'none'")
			if hsts {
				h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
			}
			p := c.Request().URL.Path
			for _, prefix := range noStorePrefixes {
				if strings.HasPrefix(p, prefix) {
					h.Set("Cache-Control", "no-store")
					h.Set("Pragma", "no-cache")
					break
				}
			}
			return next(c)
		}
	}
}

// inFlightCap refuses a request past max concurrent ones with 503 and
// Retry-After (RFC 6749 temporarily_unavailable on /oauth2/*, a problem
// elsewhere), without waiting.
func inFlightCap(max int, m *Metrics) echo.MiddlewareFunc {
	slots := make(chan struct{}, max)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if slices.Contains(exemptFromCap, c.Request().URL.Path) {
				return next(c)
			}
			select {
			case slots <- struct{}{}:
			default:
				// Answered here, not by the error handler: an overload is
				// counted, not logged line by line.
				m.overload()
				h := c.Response().Header()
				h.Set("Retry-After", strconv.Itoa(OverloadRetryAfter))
				if isOAuthPath(c.Request().URL.Path) {
					h.Set("Cache-Control", "no-store")
					return c.JSON(http.StatusServiceUnavailable, OAuthErrorBody{Error: oauth.ErrTemporarilyUnavail.Code, ErrorDescription: "the server is at capacity; retry later"})
				}
				writeProblem(c, NewProblem(http.StatusServiceUnavailable, "overloaded", "Service Overloaded", "the server is at capacity; retry later"))
				return nil
			}
			defer func() { <-slots }()
			return next(c)
		}
	}
}
