package echoverifier_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/client/echoverifier"
	"github.com/authledger/authledger/client/verifier"
)

var now = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

type key struct {
	priv ed25519.PrivateKey
}

func newKey(t *testing.T) key {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return key{priv}
}

func (k key) set(t *testing.T) verifier.KeySource {
	t.Helper()
	s, err := verifier.ParseJWKS([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","use":"sig","kid":"k1","x":"` +
		base64.RawURLEncoding.EncodeToString(k.priv.Public().(ed25519.PublicKey)) + `"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (k key) sign(over map[string]any) string {
	h, _ := json.Marshal(map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": "k1"})
	c := map[string]any{"iss": "https://auth.example", "sub": "svc", "aud": "api", "exp": now.Add(time.Minute).Unix(),
		"iat": now.Unix(), "jti": "j", "client_id": "svc", "scope": "orders:read"}
	for k, v := range over {
		c[k] = v
	}
	p, _ := json.Marshal(c)
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(k.priv, []byte(in)))
}

func TestMiddleware(t *testing.T) {
	k := newKey(t)
	v, err := verifier.New(verifier.Config{Issuer: "https://auth.example", Audiences: []string{"api", "other"}, Keys: k.set(t),
		Leeway: 5 * time.Second, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.GET("/orders", func(c echo.Context) error {
		cl, _ := echoverifier.ClaimsFrom(c)
		fromCtx, _ := verifier.ClaimsFromContext(c.Request().Context())
		return c.String(http.StatusOK, cl.Subject+" "+fromCtx.Subject)
	}, echoverifier.Middleware(v), echoverifier.RequireScopes("orders:read"))
	e.GET("/admin", func(c echo.Context) error { return c.NoContent(http.StatusOK) },
		echoverifier.Middleware(v), echoverifier.RequireScopes("orders:admin"))
	e.GET("/other", func(c echo.Context) error { return c.NoContent(http.StatusOK) },
		echoverifier.Middleware(v), echoverifier.RequireAudience("other"))
	e.GET("/bare", func(c echo.Context) error { return c.NoContent(http.StatusOK) }, echoverifier.RequireScopes("orders:read"))
	tests := []struct {
		name, path, auth string
		status           int
		challenge, body  string
	}{
		{"a good token reaches the handler with its claims, in Echo's and the request's context", "/orders", "Bearer " + k.sign(nil), 200, "", "svc svc"},
		{"no token gets a bare challenge", "/orders", "", 401, `Bearer realm="authledger"`, `{"message":"verifier: no bearer token"}`},
		{"an expired token gets invalid_token", "/orders", "Bearer " + k.sign(map[string]any{"exp": now.Add(-time.Hour).Unix()}), 401,
			`Bearer realm="authledger", error="invalid_token", error_description="verifier: token expired"`, `{"message":"verifier: token expired"}`},
		{"a missing scope gets 403 insufficient_scope", "/admin", "Bearer " + k.sign(nil), 403,
			`Bearer realm="authledger", error="insufficient_scope", scope="orders:admin"`, `{"message":"verifier: insufficient scope"}`},
		{"a token for another audience is refused per route", "/other", "Bearer " + k.sign(nil), 401,
			`Bearer realm="authledger", error="invalid_token", error_description="verifier: wrong audience"`, `{"message":"verifier: wrong audience"}`},
		{"without Middleware nothing is admitted", "/bare", "Bearer " + k.sign(nil), 401, `Bearer realm="authledger"`, `{"message":"verifier: no bearer token"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != tt.status || rec.Header().Get("WWW-Authenticate") != tt.challenge {
				t.Fatalf("status %d challenge %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
			}
			if tt.body != "" {
				if got := rec.Body.String(); got != tt.body && got != tt.body+"\n" {
					t.Fatalf("body %q, want %q", got, tt.body)
				}
			}
		})
	}
}
