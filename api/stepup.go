package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// StepUpChallenge answers RFC 9470 §3: the caller's authentication is not
// recent or strong enough; it must authenticate again with acr within
// maxAge and retry.
func StepUpChallenge(c echo.Context, acr string, maxAge time.Duration) error {
	c.Response().Header().Set("WWW-Authenticate", `Bearer error="insufficient_user_authentication", error_description="a recent user-verified authentication is required", acr_values="`+
		acr+`", max_age=`+strconv.Itoa(int(maxAge/time.Second)))
	return NewProblem(http.StatusUnauthorized, "step-up-required", "Unauthorized", "a recent user-verified authentication is required (step-up)")
}

// StepUpForUserTokens makes every /v1/admin call made with a user access
// token (one with sid) need a recent, strong authentication: acr equal to
// acr and auth_time within maxAge, or RFC 9470's challenge. M2M tokens
// are unaffected. It reads the principal BearerRequestLimit verified, so
// it runs after it; a request without one is left to the route's own
// bearer check.
func StepUpForUserTokens(acr string, maxAge time.Duration, now func() time.Time) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !strings.HasPrefix(c.Request().URL.Path, "/v1/admin/") {
				return next(c)
			}
			p, ok := PrincipalFrom(c)
			if !ok || p.SessionID == "" {
				return next(c)
			}
			if p.ACR != acr || p.AuthTime.IsZero() || now().Sub(p.AuthTime) > maxAge {
				return StepUpChallenge(c, acr, maxAge)
			}
			return next(c)
		}
	}
}
