package verifier

import (
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"
)

// HasAudience reports whether the token was minted for aud.
func (c *Claims) HasAudience(aud string) bool { return slices.Contains(c.Audience, aud) }

// RequireAudience admits only tokens whose aud holds aud, answering 401
// invalid_token (RFC 6750 §3.1) otherwise. It must run after Middleware.
// A service that shares one Verifier across routes (a gateway, or a
// Verifier configured with several Audiences) uses it per route, so a token
// minted for service A is refused by service B even when both trust the
// same issuer and keys.
func RequireAudience(aud string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			claims, ok := ClaimsFrom(c)
			if !ok {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="`+Realm+`"`)
				return echo.NewHTTPError(http.StatusUnauthorized, ErrNoToken.Error()).SetInternal(ErrNoToken)
			}
			if !claims.HasAudience(aud) {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate,
					`Bearer realm="`+Realm+`", error="invalid_token", error_description="`+ErrWrongAudience.Error()+`"`)
				return echo.NewHTTPError(http.StatusUnauthorized, ErrWrongAudience.Error()).SetInternal(ErrWrongAudience)
			}
			return next(c)
		}
	}
}
