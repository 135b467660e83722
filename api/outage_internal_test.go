package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/secrets"
)

// syncBuffer is a log sink safe for concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSpace(s.b.String()), "\n")
}

func TestOutagesAnswer503WithRetryAfter(t *testing.T) {
	t.Parallel()
	ledgerDown := fmt.Errorf("refresh: %w", eventstore.Unavailable(fmt.Errorf("postgres: append: %w", syscall.ECONNREFUSED)))
	cases := []struct {
		name, path string
		err        error
		want       string // OAuth error code or problem type
	}{
		{"the ledger on the token endpoint", "/oauth2/token", ledgerDown, "temporarily_unavailable"},
		{"the secret provider on the token endpoint", "/oauth2/token", fmt.Errorf("sign: %w", secrets.ErrUnavailable), "temporarily_unavailable"},
		{"a closed ledger on revoke", "/oauth2/revoke", eventstore.ErrClosed, "temporarily_unavailable"},
		{"the ledger on /v1", "/v1/sessions", ledgerDown, ProblemTypeBase + "storage-unavailable"},
		{"the secret provider on /v1", "/v1/admin/services", fmt.Errorf("x: %w", secrets.ErrUnavailable), ProblemTypeBase + "secrets-unavailable"},
		{"the session store on /v1", "/v1/sessions", session.ErrUnavailable, ProblemTypeBase + "session-store-unavailable"},
	}
	h := ErrorHandler(slog.New(slog.DiscardHandler))
	e := echo.New()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			h(tc.err, e.NewContext(httptest.NewRequest(http.MethodPost, tc.path, nil), rec))
			if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != fmt.Sprint(OutageRetryAfter) {
				t.Fatalf("answered %d Retry-After %q, want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
			}
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			got := body["error"]
			if !strings.HasPrefix(tc.path, "/oauth2/") {
				got = body["type"]
				if rec.Header().Get("Content-Type") != "application/problem+json" {
					t.Fatalf("content type %q", rec.Header().Get("Content-Type"))
				}
			}
			if got != tc.want {
				t.Fatalf("body %s, want %q", rec.Body, tc.want)
			}
			if strings.Contains(rec.Body.String(), "refused") || strings.Contains(rec.Body.String(), "postgres") {
				t.Fatalf("the engine error reached the client: %s", rec.Body)
			}
		})
	}
}

func TestAFloodOfOutageErrorsLogsABoundedNumberOfLines(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h := errorHandler(log, m, clock)
	e := echo.New()
	ledgerDown := eventstore.Unavailable(syscall.EROFS)
	const n = 2000
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := "/oauth2/token"
			if i%2 == 1 {
				path = "/v1/sessions"
			}
			h(ledgerDown, e.NewContext(httptest.NewRequest(http.MethodPost, path, nil), httptest.NewRecorder()))
		}()
	}
	h(fmt.Errorf("x: %w", secrets.ErrUnavailable), e.NewContext(httptest.NewRequest(http.MethodPost, "/oauth2/token", nil), httptest.NewRecorder()))
	wg.Wait()
	if lines := buf.lines(); len(lines) != 2 {
		t.Fatalf("%d log lines for %d outage errors within one window, want one per dependency:\n%s", len(lines), n+1, strings.Join(lines, "\n"))
	}
	// The next window's line says how many were suppressed.
	mu.Lock()
	now = now.Add(outageLogEvery)
	mu.Unlock()
	h(ledgerDown, e.NewContext(httptest.NewRequest(http.MethodPost, "/oauth2/token", nil), httptest.NewRecorder()))
	lines := buf.lines()
	if len(lines) != 3 {
		t.Fatalf("%d log lines after the window, want 3", len(lines))
	}
	var last struct {
		Level      string `json:"level"`
		Dependency string `json:"dependency"`
		Suppressed int    `json:"suppressed"`
	}
	if err := json.Unmarshal([]byte(lines[2]), &last); err != nil {
		t.Fatal(err)
	}
	if last.Level != "ERROR" || last.Dependency != "ledger" || last.Suppressed != n-1 {
		t.Fatalf("next line %s, want ERROR for the ledger with %d suppressed", lines[2], n-1)
	}
	if got := testutil.ToFloat64(m.dependencyErrors.WithLabelValues("ledger")); got != n+1 {
		t.Fatalf("authledger_dependency_errors_total{dependency=ledger} = %v, want %d", got, n+1)
	}
	if got := testutil.ToFloat64(m.dependencyErrors.WithLabelValues("secrets")); got != 1 {
		t.Fatalf("authledger_dependency_errors_total{dependency=secrets} = %v, want 1", got)
	}
}
