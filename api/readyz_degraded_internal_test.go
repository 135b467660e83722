package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestReadyzReportsDegradedWithItsReason(t *testing.T) {
	ok := func(context.Context) error { return nil }
	degraded := func(context.Context) error {
		return fmt.Errorf("wrapped: %w", &Degraded{Reason: "infisical unreachable; serving cached secrets"})
	}
	cases := []struct {
		name       string
		checks     []ReadyCheck
		wantStatus int
		wantBody   string
	}{
		{"a degraded check keeps 200 and says why",
			[]ReadyCheck{{Name: "ledger", Check: ok}, {Name: "secrets", Check: degraded}},
			http.StatusOK, `{"checks":{"ledger":"ok","secrets":"degraded"},"ready":true,"reasons":{"secrets":"infisical unreachable; serving cached secrets"},"status":"degraded"}`},
		{"a failing check beside a degraded one is unavailable",
			[]ReadyCheck{{Name: "ledger", Check: func(context.Context) error { return errors.New("down") }}, {Name: "secrets", Check: degraded}},
			http.StatusServiceUnavailable, `{"checks":{"ledger":"unavailable","secrets":"degraded"},"ready":false,"reasons":{"secrets":"infisical unreachable; serving cached secrets"},"status":"unavailable"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := New(Config{ReadyChecks: tc.checks})
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			var got any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(got)
			if rec.Code != tc.wantStatus || string(b) != tc.wantBody {
				t.Fatalf("status %d body %s\nwant %d %s", rec.Code, b, tc.wantStatus, tc.wantBody)
			}
		})
	}
}
