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

// Middleware verifies the request's token with VerifyRequest (RFC 6750
// §2.1 Bearer, or RFC 9449 §7 DPoP when the Verifier has a ProofChecker)
// and puts its claims in the context (ClaimsFrom). A missing token gets a
// bare challenge, a bad one error="invalid_token" (§3.1), a bad proof
// error="invalid_dpop_proof" (RFC 9449 §7.1); all answer 401 through the
// server's error handler. A DPoP challenge lists the accepted algs.
func Middleware(v *Verifier) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			claims, err := v.VerifyRequest(c.Request())
			if err != nil {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, v.Challenge(c.Request(), err))
				return echo.NewHTTPError(http.StatusUnauthorized, sentinelText(err)).SetInternal(err)
			}
			c.Set(claimsKey, claims)
			return next(c)
		}
	}
}

// Challenge is the WWW-Authenticate value answering a request that
// VerifyRequest refused with err: in the scheme the request used (a
// DPoP-bound token sent as Bearer is told to use DPoP), with a DPoP
// challenge beside the Bearer one for a request with no token when DPoP is
// accepted.
func (v *Verifier) Challenge(r *http.Request, err error) string {
	scheme, _, _ := RequestScheme(r)
	dpop := `DPoP algs="` + strings.Join(DPoPAlgs, " ") + `"`
	switch {
	case errors.Is(err, ErrNoToken) || errors.Is(err, ErrBadAuthorization):
		if v.cfg.DPoP != nil {
			return `Bearer realm="` + Realm + `", ` + dpop
		}
		return `Bearer realm="` + Realm + `"`
	case errors.Is(err, ErrInvalidDPoPProof):
		return `DPoP error="invalid_dpop_proof", error_description="` + sentinelText(err) + `", ` + `algs="` + strings.Join(DPoPAlgs, " ") + `"`
	case scheme == SchemeDPoP || errors.Is(err, ErrBoundTokenAsBearer):
		return `DPoP error="invalid_token", error_description="` + sentinelText(err) + `", ` + `algs="` + strings.Join(DPoPAlgs, " ") + `"`
	}
	return `Bearer realm="` + Realm + `", error="invalid_token", error_description="` + sentinelText(err) + `"`
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

// sentinelText is the sentinel's own text, never the wrapped detail, so the
// challenge carries nothing attacker-controlled (no quotes to escape).
func sentinelText(err error) string {
	for _, s := range []error{ErrTokenTooLarge, ErrMalformed, ErrUnsupportedAlg, ErrWrongType, ErrInvalidKID, ErrUnknownKey,
		ErrKeyRevoked, ErrBadSignature, ErrMissingClaim, ErrWrongIssuer, ErrWrongAudience, ErrExpired, ErrNotYetValid,
		ErrIssuedInFuture, ErrRevoked, ErrJWKSStale, ErrNoToken, ErrBoundTokenAsBearer, ErrTokenNotBound, ErrDPoPNotAccepted,
		ErrBadAuthorization, ErrDPoPProofMissing, ErrDPoPProofTooLarge, ErrDPoPMalformed, ErrDPoPWrongType, ErrDPoPUnsupportedAlg,
		ErrDPoPBadKey, ErrDPoPBadSignature, ErrDPoPMissingClaim, ErrDPoPWrongMethod, ErrDPoPWrongURI, ErrDPoPStale, ErrDPoPReplayed,
		ErrDPoPWrongAccessToken, ErrDPoPKeyMismatch, ErrDPoPReplayUnavailable, ErrUseDPoPNonce} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return "invalid token"
}
