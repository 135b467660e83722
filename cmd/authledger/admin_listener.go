package main

import (
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"
)

// isAdminPath reports the paths AUTHLEDGER_ADMIN_LISTEN moves off the
// public listener. It reads the decoded path, cleaned and case-folded, so
// that an escaped or dotted spelling the router might still resolve
// ("/v1/%61dmin/…", "/v1/x/../admin/…", "/metrics/") is refused too: when
// in doubt the public listener refuses.
func isAdminPath(p string) bool {
	p = strings.ToLower(path.Clean("/" + p))
	return p == "/metrics" || p == "/readyz" || p == "/v1/admin" || strings.HasPrefix(p, "/v1/admin/")
}

// publicOnly is the public listener's handler when an admin listener is
// configured: the admin paths get the 404 of an unrouted path, written by
// e's own error handler, so the public port does not reveal that they
// exist.
func publicOnly(e *echo.Echo) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isAdminPath(r.URL.Path) || (r.URL.RawPath != "" && isAdminPath(r.URL.RawPath)) {
			e.HTTPErrorHandler(echo.ErrNotFound, e.NewContext(r, w))
			return
		}
		e.ServeHTTP(w, r)
	})
}
