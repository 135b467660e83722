// Package echoverifier is client/verifier's RFC 6750 middleware for Echo.
// It is a module of its own so that a service importing client/verifier
// (or using plain net/http) never pulls in Echo.
package echoverifier

import (
	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/client/verifier"
)

const claimsKey = "authledger.verifier.claims"

// Middleware verifies the request's token — Bearer (RFC 6750 §2.1), or
// DPoP with its proof (RFC 9449 §7) when the Verifier has a ProofChecker —
// and puts its claims in the context (ClaimsFrom). A refused request
// answers 401 through the server's error handler, with the challenge set
// (verifier.AuthenticateRequest).
func Middleware(v *verifier.Verifier) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			claims, d := verifier.AuthenticateRequest(c.Request(), v)
			if d != nil {
				return deny(c, d)
			}
			c.Set(claimsKey, claims)
			c.SetRequest(c.Request().WithContext(verifier.WithClaims(c.Request().Context(), claims)))
			return next(c)
		}
	}
}

// RequireScopes answers 403 insufficient_scope (RFC 6750 §3.1) unless the
// verified token grants every scope. It must run after Middleware.
func RequireScopes(scopes ...string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			claims, _ := ClaimsFrom(c)
			if d := verifier.Authorize(claims, scopes...); d != nil {
				return deny(c, d)
			}
			return next(c)
		}
	}
}

// RequireAudience admits only tokens whose aud holds aud, answering 401
// invalid_token otherwise (verifier.AuthorizeAudience). It must run after
// Middleware.
func RequireAudience(aud string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			claims, _ := ClaimsFrom(c)
			if d := verifier.AuthorizeAudience(claims, aud); d != nil {
				return deny(c, d)
			}
			return next(c)
		}
	}
}

// ClaimsFrom returns the claims Middleware verified for this request.
func ClaimsFrom(c echo.Context) (*verifier.Claims, bool) {
	cl, ok := c.Get(claimsKey).(*verifier.Claims)
	return cl, ok && cl != nil
}

func deny(c echo.Context, d *verifier.Denial) error {
	c.Response().Header().Set(echo.HeaderWWWAuthenticate, d.Challenge)
	return echo.NewHTTPError(d.Status, d.Description()).SetInternal(d)
}
