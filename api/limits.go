package api

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// RateLimiter holds the budgets of DESIGN.md §5 (ratelimit.Limiter, in
// process or shared through Redis). The HTTP layer decides which budgets a
// request spends and how a refusal is answered (429 with Retry-After).
type RateLimiter interface {
	// ChargeFailure spends one failed authentication of the failure
	// budgets of (client id, source address) and of the address, all or
	// none, or refuses with how long to wait. It is called only after the
	// credentials were checked and found wrong, so failures slow further
	// failures and never a correct authentication.
	ChargeFailure(ctx context.Context, clientID, addr string, now time.Time) (wait time.Duration, ok bool)
	// SpendClass spends one request of an authenticated client id at an
	// endpoint of class (LimitToken, …), or says how long until one is
	// free. Which budget a class spends is the limiter's configuration.
	SpendClass(ctx context.Context, clientID, class string, now time.Time) (wait time.Duration, ok bool)
}

// Endpoint classes of the request budgets (ratelimit.ClassToken, … spell
// them the same; AUTHLEDGER_RATE_LIMIT_<CLASS> sets each).
const (
	LimitToken         = "token"
	LimitIntrospection = "introspection"
	LimitRevocation    = "revocation"
	LimitV1            = "v1"
)

// limitClass is the endpoint class of an /oauth2 request path.
func limitClass(path string) string {
	switch path {
	case "/oauth2/introspect":
		return LimitIntrospection
	case "/oauth2/revoke":
		return LimitRevocation
	}
	return LimitToken
}

// BearerRequestLimit spends the per-client request budget of the client a
// verified bearer token names (its client_id) on every /v1 request. It
// verifies the token itself, so a forged client_id cannot spend another
// client's budget; a missing or invalid token passes untouched and the
// route's own check refuses it. It sits in the global middleware so every
// /v1 group (RequireScope, sessions) is covered without changing them.
// It keeps the principal it verified (PrincipalFrom), which RequireScope
// reuses, so v must be the verifier RequireScope is given.
func BearerRequestLimit(r RateLimiter, v BearerVerifier) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if !strings.HasPrefix(req.URL.Path, "/v1/") {
				return next(c)
			}
			raw := bearerToken(req)
			if raw == "" {
				return next(c)
			}
			p, err := v.VerifyBearer(req.Context(), raw)
			if err != nil || !bindingHolds(req, p.JKT) {
				return next(c)
			}
			// RequireScope reuses it instead of verifying again; serve wires
			// both with the same verifier (a.bearer).
			c.Set(principalKey, p)
			if p.ClientID == "" {
				return next(c)
			}
			if wait, ok := r.SpendClass(req.Context(), p.ClientID, LimitV1, time.Now()); !ok {
				c.Response().Header().Set("Retry-After", retryAfter(wait))
				return NewProblem(http.StatusTooManyRequests, "rate-limited", "Too Many Requests", "the client's request rate limit is exhausted; retry later")
			}
			return next(c)
		}
	}
}

func retryAfter(wait time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(wait.Seconds()))))
}
