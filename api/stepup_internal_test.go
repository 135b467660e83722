package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

func TestAdminCallsWithAUserTokenNeedStepUp(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const uv = "urn:authledger:acr:user-verified"
	cases := []struct {
		name string
		path string
		p    *Principal
		want int
	}{
		{"an M2M token passes", "/v1/admin/services", &Principal{ClientID: "svc-a"}, http.StatusOK},
		{"a user token verified a minute ago passes", "/v1/admin/services", &Principal{SessionID: "s", ACR: uv, AuthTime: now.Add(-time.Minute)}, http.StatusOK},
		{"a user token verified an hour ago is challenged", "/v1/admin/services", &Principal{SessionID: "s", ACR: uv, AuthTime: now.Add(-time.Hour)}, http.StatusUnauthorized},
		{"a recent user token of a weaker acr is challenged", "/v1/admin/projections", &Principal{SessionID: "s", ACR: "aal1", AuthTime: now}, http.StatusUnauthorized},
		{"a user token elsewhere is not this middleware's business", "/v1/sessions", &Principal{SessionID: "s", ACR: "aal1", AuthTime: now.Add(-time.Hour)}, http.StatusOK},
		{"no principal is left to the route", "/v1/admin/services", nil, http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := echo.New()
			e.HTTPErrorHandler = ErrorHandler(nil)
			set := func(next echo.HandlerFunc) echo.HandlerFunc {
				return func(c echo.Context) error {
					if tc.p != nil {
						c.Set(principalKey, *tc.p)
					}
					return next(c)
				}
			}
			e.Use(set, StepUpForUserTokens(uv, 5*time.Minute, func() time.Time { return now }))
			e.GET("/*", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
			if tc.want == http.StatusUnauthorized {
				w := rec.Header().Get("WWW-Authenticate")
				if !strings.Contains(w, `error="insufficient_user_authentication"`) || !strings.Contains(w, `acr_values="`+uv+`"`) || !strings.Contains(w, "max_age=300") {
					t.Fatalf("WWW-Authenticate = %q", w)
				}
			}
		})
	}
}
