package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/api"
)

type routesFunc func(e *echo.Echo)

func (f routesFunc) Register(e *echo.Echo) { f(e) }

func TestOAuthEndpointsAnswer405WithAllowForAWrongMethod(t *testing.T) {
	ok := func(c echo.Context) error { return c.NoContent(http.StatusOK) }
	e := api.New(api.Config{}, routesFunc(func(e *echo.Echo) {
		for _, p := range []string{"/oauth2/token", "/oauth2/revoke", "/oauth2/introspect"} {
			e.POST(p, ok)
		}
	}))
	tests := []struct {
		name, method, path string
	}{
		{"GET on the token endpoint", http.MethodGet, "/oauth2/token"},
		{"PUT on the token endpoint", http.MethodPut, "/oauth2/token"},
		{"GET on the revocation endpoint", http.MethodGet, "/oauth2/revoke"},
		{"DELETE on the introspection endpoint", http.MethodDelete, "/oauth2/introspect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != http.StatusMethodNotAllowed {
				t.Fatalf("status %d, want 405: %s", rec.Code, rec.Body)
			}
			if allow := rec.Header().Get("Allow"); allow == "" || !slices.Contains(strings.Split(strings.ReplaceAll(allow, " ", ""), ","), "POST") {
				t.Fatalf("Allow = %q, want POST listed", allow)
			}
			var body api.OAuthErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error == "" {
				t.Fatalf("want an RFC 6749 body, got %s", rec.Body)
			}
		})
	}
}
