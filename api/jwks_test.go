package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/authledger/authledger/api"
)

type fixedJWKS struct {
	body []byte
	etag string
	ok   bool
}

func (f fixedJWKS) JWKS() ([]byte, string, bool) { return f.body, f.etag, f.ok }

func serveJWKS(t *testing.T, src api.JWKSSource, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	e := api.New(api.Config{}, api.JWKS{Source: src, MaxAge: 5 * time.Minute, StaleWhileRevalidate: time.Minute})
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func TestJWKSEndpoint(t *testing.T) {
	src := fixedJWKS{body: []byte(`{"keys":[]}`), etag: `"abc"`, ok: true}
	tests := []struct {
		name        string
		method      string
		ifNoneMatch string
		src         fixedJWKS
		wantStatus  int
		wantBody    string
	}{
		{"a plain GET gets the bytes with cache headers", http.MethodGet, "", src, 200, `{"keys":[]}`},
		{"a matching If-None-Match gets 304", http.MethodGet, `"abc"`, src, 304, ""},
		{"a weak or listed match also gets 304", http.MethodGet, `"x", W/"abc"`, src, 304, ""},
		{"a stale ETag gets the new bytes", http.MethodGet, `"old"`, src, 200, `{"keys":[]}`},
		{"an unloaded key set answers 503", http.MethodGet, "", fixedJWKS{}, 503, ""},
		{"a CORS preflight is answered", http.MethodOptions, "", src, 204, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, api.JWKSPath, nil)
			if tt.ifNoneMatch != "" {
				req.Header.Set("If-None-Match", tt.ifNoneMatch)
			}
			req.Header.Set("Origin", "https://app.example")
			rec := serveJWKS(t, tt.src, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if tt.wantBody != "" && rec.Body.String() != tt.wantBody {
				t.Fatalf("body = %s", rec.Body)
			}
			if rec.Header().Get("Access-Control-Allow-Origin") != "*" {
				t.Fatal("no CORS header")
			}
			if ct := rec.Header().Get("Content-Type"); tt.wantStatus == 200 && ct != "application/jwk-set+json" {
				t.Fatalf("Content-Type %q, want application/jwk-set+json (RFC 7517 §8.5.1)", ct)
			}
			if tt.wantStatus == 200 || tt.wantStatus == 304 {
				if rec.Header().Get("ETag") != `"abc"` || rec.Header().Get("Cache-Control") != "public, max-age=300, stale-while-revalidate=60" {
					t.Fatalf("headers = %v", rec.Header())
				}
			}
		})
	}
}

func TestMetadata(t *testing.T) {
	e := api.New(api.Config{}, api.Metadata{Document: api.NewAuthServerMetadata("https://auth.example")})
	for _, p := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || rec.Code != 200 {
			t.Fatalf("%s: %d %v", p, rec.Code, err)
		}
		if m["issuer"] != "https://auth.example" || m["jwks_uri"] != "https://auth.example/.well-known/jwks.json" ||
			m["token_endpoint"] != "https://auth.example/oauth2/token" {
			t.Fatalf("%s: %v", p, m)
		}
		algs, _ := m["token_endpoint_auth_signing_alg_values_supported"].([]any)
		if len(algs) != 2 || algs[0] != "EdDSA" || algs[1] != "Ed25519" {
			t.Fatalf("algs = %v", algs)
		}
	}
}
