package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// JWKSPath is fixed by DESIGN.md §5.
const JWKSPath = "/.well-known/jwks.json"

// JWKSSource hands out the pre-serialized JWK Set and its strong ETag; ok is
// false until the key ring has been read.
type JWKSSource interface {
	JWKS() (body []byte, etag string, ok bool)
}

// JWKS serves the key set from memory with HTTP caching (RFC 9111) tied to
// the key policy: a new key is published at least MaxAge +
// StaleWhileRevalidate + skew before it signs, so every cache holds it in
// time.
type JWKS struct {
	Source               JWKSSource
	MaxAge               time.Duration
	StaleWhileRevalidate time.Duration
}

// JWKSContentType is the JWK Set media type of RFC 7517 §8.5.1.
const JWKSContentType = "application/jwk-set+json"

// Register implements Routes.
func (j JWKS) Register(e *echo.Echo) {
	cc := "public, max-age=" + strconv.Itoa(int(j.MaxAge/time.Second))
	if j.StaleWhileRevalidate > 0 {
		cc += ", stale-while-revalidate=" + strconv.Itoa(int(j.StaleWhileRevalidate/time.Second))
	}
	e.GET(JWKSPath, func(c echo.Context) error {
		h := c.Response().Header()
		setCORS(h)
		body, etag, ok := j.Source.JWKS()
		if !ok {
			h.Set("Retry-After", "1")
			return echo.NewHTTPError(http.StatusServiceUnavailable, "the key set is not loaded yet")
		}
		h.Set("Cache-Control", cc)
		h.Set("ETag", etag)
		if etagMatches(c.Request().Header.Get("If-None-Match"), etag) {
			return c.NoContent(http.StatusNotModified)
		}
		return c.Blob(http.StatusOK, JWKSContentType, body)
	})
	e.OPTIONS(JWKSPath, preflight)
}

// setCORS lets browser apps fetch public, credential-free documents.
func setCORS(h http.Header) {
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "ETag, Cache-Control")
}

func preflight(c echo.Context) error {
	h := c.Response().Header()
	setCORS(h)
	h.Set("Access-Control-Allow-Methods", "GET, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "If-None-Match")
	h.Set("Access-Control-Max-Age", "86400")
	return c.NoContent(http.StatusNoContent)
}

// etagMatches implements If-None-Match's weak comparison (RFC 9110 §13.1.2).
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}
