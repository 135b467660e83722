package api

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// bearerToken is the RFC 6750 §2.1 bearer token in req's Authorization
// header, or "" when it holds none.
func bearerToken(req *http.Request) string {
	scheme, raw, _ := strings.Cut(req.Header.Get(echo.HeaderAuthorization), " ")
	if !strings.EqualFold(scheme, "Bearer") {
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
	c.Response().Header().Set("WWW-Authenticate", `Bearer realm="authledger", error="invalid_token"`)
	return NewProblem(http.StatusUnauthorized, "invalid-token", "Unauthorized", "the bearer token is not valid")
}
