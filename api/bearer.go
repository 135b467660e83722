package api

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// bearerToken is the access token in req's Authorization header: an RFC
// 6750 §2.1 bearer token, or an RFC 9449 §7.1 DPoP token whose proof
// DPoPResource validated; "" when it holds neither. Whoever verifies it
// must then check bindingHolds.
func bearerToken(req *http.Request) string {
	scheme, raw, _ := strings.Cut(req.Header.Get(echo.HeaderAuthorization), " ")
	if !strings.EqualFold(scheme, "Bearer") && (!strings.EqualFold(scheme, "DPoP") || proofJKT(req) == "") {
		return ""
	}
	return strings.TrimSpace(raw)
}

// errBearerMissing is the 401 answer to a request without a bearer token
// (RFC 6750 §3: no error code, only the challenge).
func errBearerMissing(c echo.Context) error {
	c.Response().Header().Set("WWW-Authenticate", `Bearer realm="authledger"`)
	return NewProblem(http.StatusUnauthorized, "unauthenticated", "Unauthorized", "a bearer token is required")
}

// errBearerInvalid is the 401 answer to a bearer token that does not verify.
func errBearerInvalid(c echo.Context) error {
	scheme, _, _ := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
	if strings.EqualFold(scheme, "DPoP") {
		c.Response().Header().Set("WWW-Authenticate", dpopChallenge("invalid_token", "the access token is not valid"))
		return NewProblem(http.StatusUnauthorized, "invalid-token", "Unauthorized", "the access token is not valid")
	}
	c.Response().Header().Set("WWW-Authenticate", `Bearer realm="authledger", error="invalid_token"`)
	return NewProblem(http.StatusUnauthorized, "invalid-token", "Unauthorized", "the bearer token is not valid")
}

// errUserTokenRequired is the 401 answer to a valid token that is not a
// user access token (no sid: an M2M token) on an API that acts for a user
// (RFC 9068 §5; RFC 6750 §3.1 invalid_token: not valid for this resource).
func errUserTokenRequired(c echo.Context) error {
	c.Response().Header().Set("WWW-Authenticate", `Bearer realm="authledger", error="invalid_token", error_description="a user access token is required"`)
	return NewProblem(http.StatusUnauthorized, "user-token-required", "Unauthorized", "this API accepts only user access tokens (minted from a session, carrying sid)")
}
