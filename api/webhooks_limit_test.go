package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/ratelimit"
)

// The webhook authenticates by signature: refused signatures spend the
// caller address's failure budget like failed client authentications, so
// the secret cannot be guessed at line rate.
func TestRefusedWebhookSignaturesAreRateLimitedByAddress(t *testing.T) {
	t.Parallel()
	e := api.New(api.Config{}, api.InfisicalWebhook{Secret: []byte("webhook-secret-for-tests"), Limits: ratelimit.New(ratelimit.DefaultLimits())})
	post := func(addr string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, api.InfisicalWebhookPath, strings.NewReader(`{"timestamp":1}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(api.InfisicalSignatureHeader, "t=1;"+strings.Repeat("0", 64))
		req.RemoteAddr = addr + ":4000"
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec
	}
	limited := 0
	for i := range 1000 {
		rec := post("198.51.100.7")
		if rec.Code == http.StatusTooManyRequests {
			if rec.Header().Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
			limited = i
			break
		}
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("refused signature %d answered %d", i, rec.Code)
		}
	}
	if limited == 0 {
		t.Fatal("1000 refused signatures from one address were never rate limited")
	}
	if rec := post("203.0.113.9"); rec.Code != http.StatusUnauthorized {
		t.Errorf("another address answered %d, want its own budget (401)", rec.Code)
	}
	t.Logf("rate limited after %d refused signatures", limited)
}
