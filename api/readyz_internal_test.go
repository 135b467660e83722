package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestReadyzAnswersShortReasonsAndLogsTheDetail(t *testing.T) {
	t.Parallel()
	const internal = "dial tcp 10.20.30.40:5432: connect: connection refused (user=authledger password=hunter2)"
	cases := []struct {
		name       string
		checks     []ReadyCheck
		wantStatus int
		wantBody   string
		wantLogged bool
	}{
		{"every check passing answers 200 and ok per check",
			[]ReadyCheck{{Name: "ledger", Check: func(context.Context) error { return nil }}},
			http.StatusOK, `{"checks":{"ledger":"ok"},"ready":true,"status":"ok"}`, false},
		{"a failing check answers 503 with unavailable, never its error text",
			[]ReadyCheck{
				{Name: "ledger", Check: func(context.Context) error { return errors.New(internal) }},
				{Name: "signing_key", Check: func(context.Context) error { return nil }},
			},
			http.StatusServiceUnavailable, `{"checks":{"ledger":"unavailable","signing_key":"ok"},"ready":false,"status":"unavailable"}`, true},
		{"a wrapped error is no more visible than a plain one",
			[]ReadyCheck{{Name: "projections", Check: func(context.Context) error {
				return errors.Join(errors.New("families stopped at position 7"), errors.New(internal))
			}}},
			http.StatusServiceUnavailable, `{"checks":{"projections":"unavailable"},"ready":false,"status":"unavailable"}`, true},
		{"a failing Degrades check keeps 200 and says degraded",
			[]ReadyCheck{
				{Name: "ledger", Check: func(context.Context) error { return nil }},
				{Name: "redis", Degrades: true, Check: func(context.Context) error { return errors.New(internal) }},
			},
			http.StatusOK, `{"checks":{"ledger":"ok","redis":"degraded"},"ready":true,"status":"degraded"}`, true},
		{"the session-traffic probe fails on a failing Degrades check",
			[]ReadyCheck{
				{Name: "ledger", Check: func(context.Context) error { return nil }},
				{Name: "redis", Degrades: true, Check: func(context.Context) error { return errors.New(internal) }},
			},
			http.StatusServiceUnavailable, `{"checks":{"ledger":"ok","redis":"degraded"},"ready":false,"status":"unavailable"}`, true},
		{"the session-traffic probe passes when every check does",
			[]ReadyCheck{{Name: "redis", Degrades: true, Check: func(context.Context) error { return nil }}},
			http.StatusOK, `{"checks":{"redis":"ok"},"ready":true,"status":"ok"}`, false},
		{"a hard failure beside a degraded one is unavailable",
			[]ReadyCheck{
				{Name: "ledger", Check: func(context.Context) error { return errors.New(internal) }},
				{Name: "redis", Degrades: true, Check: func(context.Context) error { return errors.New(internal) }},
			},
			http.StatusServiceUnavailable, `{"checks":{"ledger":"unavailable","redis":"degraded"},"ready":false,"status":"unavailable"}`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			e := New(Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), ReadyChecks: tc.checks})
			rec := httptest.NewRecorder()
			path := "/readyz"
			if strings.HasPrefix(tc.name, "the session-traffic probe") {
				path += "?traffic=sessions"
			}
			e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.wantStatus, rec.Body)
			}
			var got any // re-marshalled: sorted keys, one spelling
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %s: %v", rec.Body, err)
			}
			if gb, _ := json.Marshal(got); string(gb) != tc.wantBody {
				t.Fatalf("body %s, want %s", gb, tc.wantBody)
			}
			for _, leak := range []string{"hunter2", "10.20.30.40", "connection refused", "position 7"} {
				if strings.Contains(rec.Body.String(), leak) {
					t.Fatalf("the body discloses %q: %s", leak, rec.Body)
				}
			}
			if logged := strings.Contains(logs.String(), "connection refused"); logged != tc.wantLogged {
				t.Fatalf("detail logged %v, want %v: %s", logged, tc.wantLogged, logs.String())
			}
		})
	}
}
