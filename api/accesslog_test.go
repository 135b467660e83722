package api_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/api"
)

func TestTheAccessLogWritesOneLinePerRequestWithoutTheRawPathOrQuery(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	routes := routesFunc(func(e *echo.Echo) {
		e.GET("/v1/admin/subjects/:subject", func(c echo.Context) error { return echo.NewHTTPError(http.StatusForbidden) })
		e.GET("/ok", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	})
	e := api.New(api.Config{Logger: log, Middleware: []echo.MiddlewareFunc{api.AccessLog(log, slog.LevelInfo)}}, routes)
	for _, target := range []string{"/v1/admin/subjects/alice@example.com?token=s3cr3t", "/ok", "/nowhere"} {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, target, nil))
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		if m["msg"] == "request" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 3 {
		t.Fatalf("%d access lines, want 3:\n%s", len(lines), buf.String())
	}
	want := []struct {
		route  string
		status float64
	}{{"/v1/admin/subjects/:subject", 403}, {"/ok", 204}, {"unmatched", 404}}
	for i, w := range want {
		l := lines[i]
		if l["route"] != w.route || l["status"] != w.status || l["method"] != "GET" || l["level"] != "INFO" {
			t.Errorf("line %d: %v, want route %s status %v", i, l, w.route, w.status)
		}
		for _, k := range []string{"duration_ms", "client_id", "request_id"} {
			if _, ok := l[k]; !ok {
				t.Errorf("line %d lacks %s: %v", i, k, l)
			}
		}
		if rid, _ := l["request_id"].(string); rid == "" {
			t.Errorf("line %d: empty request id", i)
		}
	}
	if strings.Contains(buf.String(), "alice@example.com") || strings.Contains(buf.String(), "s3cr3t") {
		t.Fatalf("the raw path or query reached the log:\n%s", buf.String())
	}
}

func TestTheAccessLogBelowTheLogLevelWritesNothing(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	e := api.New(api.Config{Logger: log, Middleware: []echo.MiddlewareFunc{api.AccessLog(log, slog.LevelDebug)}})
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if strings.Contains(buf.String(), `"msg":"request"`) {
		t.Fatalf("a debug access line at info level:\n%s", buf.String())
	}
}
