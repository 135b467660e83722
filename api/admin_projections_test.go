package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/api"
)

// projectionTable is a small in-memory ProjectionAdmin: the port's
// behaviour (not storage) is what these handler tests exercise.
type projectionTable map[string]string // name → kind

func (p projectionTable) ProjectionStatus(context.Context) ([]api.ProjectionInfo, error) {
	var out []api.ProjectionInfo
	for n, k := range p {
		out = append(out, api.ProjectionInfo{Name: n, Kind: k, State: "running"})
	}
	return out, nil
}

func (p projectionTable) RequestRebuild(_ context.Context, name string) error {
	switch p[name] {
	case "":
		return fmt.Errorf("%w: %s", api.ErrProjectionNotFound, name)
	case "memory":
		return api.ErrProjectionNotRebuildable
	}
	return nil
}

func TestAdminProjectionsEndpoints(t *testing.T) {
	t.Parallel()
	allow := func(next echo.HandlerFunc) echo.HandlerFunc { return next }
	deny := func(echo.HandlerFunc) echo.HandlerFunc {
		return func(echo.Context) error { return api.NewProblem(http.StatusForbidden, "forbidden", "Forbidden", "") }
	}
	table := projectionTable{"sessions.v1": "sql", "jwks.v1": "memory"}
	cases := []struct {
		name   string
		authz  echo.MiddlewareFunc
		method string
		path   string
		status int
		body   string
	}{
		{"the list shows every projection", allow, http.MethodGet, "/v1/admin/projections", 200, `"sessions.v1"`},
		{"a rebuild request is accepted", allow, http.MethodPost, "/v1/admin/projections/sessions.v1/rebuild", 202, `rebuild requested`},
		{"an unknown projection is a 404 problem", allow, http.MethodPost, "/v1/admin/projections/nope.v1/rebuild", 404, `projection-not-found`},
		{"an in-memory projection cannot be rebuilt", allow, http.MethodPost, "/v1/admin/projections/jwks.v1/rebuild", 409, `projection-not-rebuildable`},
		{"the authorization middleware guards the routes", deny, http.MethodGet, "/v1/admin/projections", 403, ``},
		{"without an authorization middleware the routes do not exist", nil, http.MethodGet, "/v1/admin/projections", 404, ``},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := api.New(api.Config{}, api.NewAdminProjections(table, tc.authz))
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.body) {
				t.Fatalf("%s %s: %d %s, want %d containing %q", tc.method, tc.path, rec.Code, rec.Body.String(), tc.status, tc.body)
			}
		})
	}
}
