package api_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authledger/authledger/api"
)

func TestInfisicalWebhook(t *testing.T) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	// delivery builds what Infisical sends: the body holds the timestamp in
	// ms and the header "t=<ms>;<hex HMAC-SHA256(secret, body)>".
	delivery := func(key []byte, at time.Time) (body, header string) {
		body = fmt.Sprintf(`{"event":"secrets.modified","project":{"workspaceId":"w","environment":"prod","secretPath":"/"},"timestamp":%d}`, at.UnixMilli())
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(body))
		return body, fmt.Sprintf("t=%d;%s", at.UnixMilli(), hex.EncodeToString(mac.Sum(nil)))
	}
	good, goodSig := delivery(secret, now.Add(-time.Minute))
	stale, staleSig := delivery(secret, now.Add(-6*time.Minute))
	future, futureSig := delivery(secret, now.Add(6*time.Minute))
	other, otherSig := delivery([]byte("another secret"), now)
	// A fresh header on an old (authentic) body must not pass: only the body is MACed.
	_, oldBodySig := delivery(secret, now.Add(-time.Hour))
	oldBody, _ := delivery(secret, now.Add(-time.Hour))
	replayedHeader := fmt.Sprintf("t=%d;%s", now.UnixMilli(), oldBodySig[strings.Index(oldBodySig, ";")+1:])
	// signed signs a body as it is: an authentic body that two JSON parsers
	// read differently is still refused (issue 10 item 8).
	signed := func(body string, at time.Time) (string, string) {
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(body))
		return body, fmt.Sprintf("t=%d;%s", at.UnixMilli(), hex.EncodeToString(mac.Sum(nil)))
	}
	dupTS, dupTSSig := signed(fmt.Sprintf(`{"event":"x","timestamp":%d,"timestamp":%d}`, now.Add(-time.Hour).UnixMilli(), now.UnixMilli()), now)
	trailing, trailingSig := signed(fmt.Sprintf(`{"event":"x","timestamp":%d} {"event":"y"}`, now.UnixMilli()), now)

	tests := []struct {
		name       string
		secret     []byte
		body, sig  string
		wantStatus int
		wantType   string
	}{
		{"without a configured secret every call is refused", nil, good, goodSig, 503, "webhook-disabled"},
		{"without a configured secret even a signed call is refused", []byte{}, good, goodSig, 503, "webhook-disabled"},
		{"a missing signature is refused", secret, good, "", 401, "webhook-signature-invalid"},
		{"a malformed signature is refused", secret, good, "sha256=" + strings.Repeat("0", 64), 401, "webhook-signature-invalid"},
		{"a signature by another key is refused", secret, other, otherSig, 401, "webhook-signature-invalid"},
		{"a tampered body is refused", secret, strings.Replace(good, "prod", "dev", 1), goodSig, 401, "webhook-signature-invalid"},
		{"a stale timestamp is refused", secret, stale, staleSig, 401, "webhook-signature-invalid"},
		{"a timestamp too far in the future is refused", secret, future, futureSig, 401, "webhook-signature-invalid"},
		{"a fresh header on an old body is refused", secret, oldBody, replayedHeader, 401, "webhook-signature-invalid"},
		{"a signed body with a duplicate key is refused", secret, dupTS, dupTSSig, 400, "invalid-request"},
		{"a signed body with trailing data is refused", secret, trailing, trailingSig, 400, "invalid-request"},
		{"a good signature is accepted with 202", secret, good, goodSig, 202, ""},
		{"an upper-case hex signature is accepted", secret, good, goodSig[:strings.Index(goodSig, ";")+1] + strings.ToUpper(goodSig[strings.Index(goodSig, ";")+1:]), 202, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := api.New(api.Config{}, api.InfisicalWebhook{Secret: tt.secret, Now: func() time.Time { return now }})
			req := httptest.NewRequest(http.MethodPost, api.InfisicalWebhookPath, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			if tt.sig != "" {
				req.Header.Set("X-Infisical-Signature", tt.sig)
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantType == "" {
				if rec.Body.Len() != 0 {
					t.Fatalf("a 202 carries no body, got %s", rec.Body)
				}
				return
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("Content-Type %q", ct)
			}
			var p api.Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Type != api.ProblemTypeBase+tt.wantType {
				t.Fatalf("problem %s (%v), want type %s", rec.Body, err, tt.wantType)
			}
			if len(tt.secret) > 0 && bytes.Contains(rec.Body.Bytes(), tt.secret) {
				t.Fatal("the answer contains the secret")
			}
		})
	}
}
