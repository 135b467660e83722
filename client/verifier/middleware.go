package verifier

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

const claimsKey = "authledger.verifier.claims"

// Realm is the realm of WWW-Authenticate challenges.
var Realm = "authledger"

// Middleware verifies the bearer token (RFC 6750 §2.1) and puts its claims
// in the context (ClaimsFrom). A missing token gets a bare challenge, a bad
// one error="invalid_token" (§3.1); both answer 401 through the server's
// error handler.
func Middleware(v *Verifier) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			raw, ok := bearer(c.Request().Header.Get(echo.HeaderAuthorization))
			if !ok {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="`+Realm+`"`)
				return echo.NewHTTPError(http.StatusUnauthorized, ErrNoToken.Error()).SetInternal(ErrNoToken)
			}
			claims, err := v.Verify(c.Request().Context(), raw)
			if err != nil {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate,
					`Bearer realm="`+Realm+`", error="invalid_token", error_description="`+sentinelText(err)+`"`)
				return echo.NewHTTPError(http.StatusUnauthorized, sentinelText(err)).SetInternal(err)
			}
			c.Set(claimsKey, claims)
			return next(c)
		}
	}
}

// RequireScopes answers 403 insufficient_scope (RFC 6750 §3.1) unless the
// verified token grants every scope. It must run after Middleware.
func RequireScopes(scopes ...string) echo.MiddlewareFunc {
	want := strings.Join(scopes, " ")
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			claims, ok := ClaimsFrom(c)
			if !ok {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="`+Realm+`"`)
				return echo.NewHTTPError(http.StatusUnauthorized, ErrNoToken.Error()).SetInternal(ErrNoToken)
			}
			for _, s := range scopes {
				if !claims.HasScope(s) {
					c.Response().Header().Set(echo.HeaderWWWAuthenticate,
						`Bearer realm="`+Realm+`", error="insufficient_scope", scope="`+want+`"`)
					return echo.NewHTTPError(http.StatusForbidden, ErrInsufficientScope.Error()).SetInternal(ErrInsufficientScope)
				}
			}
			return next(c)
		}
	}
}

// ClaimsFrom returns the claims Middleware verified for this request.
func ClaimsFrom(c echo.Context) (*Claims, bool) {
	cl, ok := c.Get(claimsKey).(*Claims)
	return cl, ok && cl != nil
}

func bearer(h string) (string, bool) {
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	t := strings.TrimSpace(h[len(prefix):])
	return t, t != ""
}

// sentinelText is the sentinel's own text, never the wrapped detail, so the
// challenge carries nothing attacker-controlled (no quotes to escape).
func sentinelText(err error) string {
	for _, s := range []error{ErrTokenTooLarge, ErrMalformed, ErrUnsupportedAlg, ErrWrongType, ErrInvalidKID, ErrUnknownKey,
		ErrKeyRevoked, ErrBadSignature, ErrMissingClaim, ErrWrongIssuer, ErrWrongAudience, ErrExpired, ErrNotYetValid,
		ErrIssuedInFuture, ErrRevoked, ErrJWKSStale, ErrNoToken} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return "invalid token"
}
