package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/domain/oauth"
)

func hardened(t *testing.T, h api.Hardening, extra routesFunc) (*echo.Echo, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := api.NewMetrics(reg)
	e := api.New(api.Config{Hardening: h, Metrics: m, BodyLimit: "1K"}, m, routesFunc(func(e *echo.Echo) {
		e.GET("/.well-known/jwks.json", func(c echo.Context) error {
			c.Response().Header().Set("Cache-Control", "public, max-age=300")
			return c.JSON(http.StatusOK, map[string]any{"keys": []any{}})
		})
		e.POST("/oauth2/token", func(c echo.Context) error { return oauth.ErrInvalidGrant })
		e.POST("/oauth2/introspect", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]bool{"active": false}) })
		e.POST("/v1/sessions", func(c echo.Context) error { return c.JSON(http.StatusCreated, map[string]string{"session_id": "x"}) })
		e.GET("/v1/thing", func(c echo.Context) error {
			return api.NewProblem(http.StatusForbidden, "forbidden", "Forbidden", "no")
		})
		if extra != nil {
			extra(e)
		}
	}))
	return e, reg
}

func do(e *echo.Echo, method, path, body string, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = "192.0.2.1:1234"
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func TestEveryAnswerCarriesTheSecurityHeadersErrorsIncluded(t *testing.T) {
	t.Parallel()
	e, _ := hardened(t, api.Hardening{HSTS: true}, nil)
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for _, c := range []struct {
		name, method, path, body string
		hdr                      map[string]string
		status                   int
		noStore                  bool
	}{
		{"the JWKS", http.MethodGet, "/.well-known/jwks.json", "", nil, 200, false},
		{"an RFC 6749 error", http.MethodPost, "/oauth2/token", "grant_type=x", form, 400, true},
		{"an introspection answer", http.MethodPost, "/oauth2/introspect", "token=x", form, 200, true},
		{"a session answer", http.MethodPost, "/v1/sessions", "{}", nil, 201, true},
		{"a problem", http.MethodGet, "/v1/thing", "", nil, 403, false},
		{"a 404", http.MethodGet, "/nowhere", "", nil, 404, false},
		{"a 405", http.MethodDelete, "/.well-known/jwks.json", "", nil, 405, false},
		{"the body limit's 413", http.MethodPost, "/v1/sessions", strings.Repeat("a", 4096), nil, 413, true},
		{"an oversized OAuth form (RFC 6749: 400)", http.MethodPost, "/oauth2/token", strings.Repeat("a", 4096), form, 400, true},
		{"liveness", http.MethodGet, "/healthz", "", nil, 200, false},
	} {
		rec := do(e, c.method, c.path, c.body, c.hdr)
		h := rec.Header()
		if rec.Code != c.status {
			t.Errorf("%s: status %d, want %d", c.name, rec.Code, c.status)
		}
		for k, v := range map[string]string{
			"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
			"Content-Security-Policy": "frame-ancestors 'none'", "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
		} {
			if h.Get(k) != v {
				t.Errorf("%s: %s = %q, want %q", c.name, k, h.Get(k), v)
			}
		}
		if got := h.Get("Cache-Control") == "no-store"; got != c.noStore {
			t.Errorf("%s: Cache-Control %q (no-store wanted: %v)", c.name, h.Get("Cache-Control"), c.noStore)
		}
	}
	// The JWKS keeps its own caching.
	if cc := do(e, http.MethodGet, "/.well-known/jwks.json", "", nil).Header().Get("Cache-Control"); cc != "public, max-age=300" {
		t.Errorf("JWKS Cache-Control %q was overwritten", cc)
	}
}

func TestNoHSTSWhenTheIssuerIsNotHTTPS(t *testing.T) {
	t.Parallel()
	e, _ := hardened(t, api.Hardening{}, nil)
	if v := do(e, http.MethodGet, "/healthz", "", nil).Header().Get("Strict-Transport-Security"); v != "" {
		t.Errorf("HSTS %q on a plain-http deployment", v)
	}
}

func TestPastTheInFlightCapRequestsAnswer503WithRetryAfter(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	e, reg := hardened(t, api.Hardening{MaxInFlight: 2}, func(e *echo.Echo) {
		e.GET("/v1/slow", func(c echo.Context) error {
			entered <- struct{}{}
			<-release
			return c.NoContent(http.StatusNoContent)
		})
	})
	srv := httptest.NewServer(e)
	defer srv.Close()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			resp, err := http.Get(srv.URL + "/v1/slow")
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				t.Errorf("a request inside the cap answered %d", resp.StatusCode)
			}
		})
	}
	<-entered
	<-entered
	for _, c := range []struct{ path, problem string }{{"/v1/thing", "application/problem+json"}, {"/oauth2/token", "application/json"}} {
		rec := do(e, http.MethodGet, c.path, "", nil)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" || !strings.HasPrefix(rec.Header().Get("Content-Type"), c.problem) {
			t.Errorf("%s past the cap: %d Retry-After %q %s %s", c.path, rec.Code, rec.Header().Get("Retry-After"), rec.Header().Get("Content-Type"), rec.Body)
		}
		if c.path == "/oauth2/token" && !strings.Contains(rec.Body.String(), "temporarily_unavailable") {
			t.Errorf("OAuth answer past the cap is not RFC 6749: %s", rec.Body)
		}
	}
	for _, p := range []string{"/healthz", "/metrics"} {
		if rec := do(e, http.MethodGet, p, "", nil); rec.Code != http.StatusOK {
			t.Errorf("%s at the cap answered %d: operators must still see the instance", p, rec.Code)
		}
	}
	if n := testutil.ToFloat64(mustCounter(t, reg, "authledger_http_overload_refusals_total")); n != 2 {
		t.Errorf("overload refusals counted %v, want 2", n)
	}
	close(release)
	wg.Wait()
	if rec := do(e, http.MethodGet, "/v1/thing", "", nil); rec.Code != http.StatusForbidden {
		t.Errorf("after the burst: %d, want the route's own 403", rec.Code)
	}
}

func mustCounter(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			c := prometheus.NewCounter(prometheus.CounterOpts{Name: "c", Help: "c"})
			c.Add(f.GetMetric()[0].GetCounter().GetValue())
			return c
		}
	}
	t.Fatalf("%s not gathered", name)
	return nil
}
