package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestTheInfisicalWebhookIsAlwaysRouted(t *testing.T) {
	const secret = "whsec-test-0123456789abcdef"
	ms := time.Now().UnixMilli()
	body := fmt.Sprintf(`{"event":"test","timestamp":%d}`, ms)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	sig := fmt.Sprintf("t=%d;%s", ms, hex.EncodeToString(mac.Sum(nil)))

	tests := []struct {
		name   string
		secret string
		sig    string
		want   int
	}{
		{"without a configured secret the route exists and refuses", "", sig, http.StatusServiceUnavailable},
		{"with a secret an unsigned call is refused", secret, "", http.StatusUnauthorized},
		{"with a secret a signed call is accepted", secret, sig, http.StatusAccepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			t.Setenv("AUTHLEDGER_DATA_DIR", t.TempDir())
			t.Setenv("AUTHLEDGER_INFISICAL_WEBHOOK_SECRET", tt.secret)
			e := buildServed(t, false)
			req := httptest.NewRequest(http.MethodPost, "/v1/webhooks/infisical", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if tt.sig != "" {
				req.Header.Set("X-Infisical-Signature", tt.sig)
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
		})
	}
}

func TestTheWebhookSecretNeverPrints(t *testing.T) {
	const secret = "whsec-never-print-me"
	clearEnv(t)
	t.Setenv("AUTHLEDGER_DATA_DIR", t.TempDir())
	t.Setenv("AUTHLEDGER_INFISICAL_WEBHOOK_SECRET", secret)
	cfg, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if string(cfg.InfisicalWebhookSecret) != secret {
		t.Fatalf("the secret was not read from the environment")
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", cfg, "secret", cfg.InfisicalWebhookSecret)
	for _, out := range []string{fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg.InfisicalWebhookSecret), logs.String()} {
		if strings.Contains(out, secret) {
			t.Fatalf("the secret leaked: %s", out)
		}
	}
}
