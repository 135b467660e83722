package verifier_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authledger/authledger/client/verifier"
)

var now = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

type testKey struct {
	kid  string
	priv ed25519.PrivateKey
}

func newTestKey(t testing.TB, kid string) testKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{kid: kid, priv: priv}
}

func (k testKey) jwks() string {
	return `{"keys":[{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","use":"sig","kid":"` + k.kid + `","x":"` +
		base64.RawURLEncoding.EncodeToString(k.priv.Public().(ed25519.PublicKey)) + `"}]}`
}

func (k testKey) sign(claims map[string]any) string {
	h, _ := json.Marshal(map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": k.kid})
	base := map[string]any{"iss": "https://auth.example", "sub": "svc", "aud": "api", "exp": now.Add(time.Minute).Unix(),
		"iat": now.Unix(), "jti": "j", "client_id": "svc", "scope": "orders:read"}
	for k, v := range claims {
		if v == nil {
			delete(base, k)
		} else {
			base[k] = v
		}
	}
	p, _ := json.Marshal(base)
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(k.priv, []byte(in)))
}

func newV(t testing.TB, keys verifier.KeySource) *verifier.Verifier {
	t.Helper()
	v, err := verifier.New(verifier.Config{Issuer: "https://auth.example", Audiences: []string{"api"}, Keys: keys, Leeway: 5 * time.Second, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestConfigIsCheckedUpFront(t *testing.T) {
	_, err := verifier.New(verifier.Config{Leeway: time.Hour})
	for _, want := range []string{"Issuer", "Audiences", "Keys", "Leeway"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v, want it to name %s", err, want)
		}
	}
}

func TestTypedClaims(t *testing.T) {
	k := newTestKey(t, "k1")
	set, _ := verifier.ParseJWKS([]byte(k.jwks()))
	c, err := newV(t, set).Verify(context.Background(), k.sign(map[string]any{"sid": "s1", "acr": "aal2", "amr": []string{"hwk"}, "auth_time": now.Unix(), "aud": []string{"api", "edge"}}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "svc" || c.SessionID != "s1" || c.ACR != "aal2" || c.AMR[0] != "hwk" || !c.HasScope("orders:read") ||
		c.KeyID != "k1" || !c.AuthTime.Equal(now) || len(c.Audience) != 2 {
		t.Fatalf("claims = %+v", c)
	}
}

func TestAudienceIsConfigurablePerVerifier(t *testing.T) {
	k := newTestKey(t, "k1")
	set, _ := verifier.ParseJWKS([]byte(k.jwks()))
	raw := k.sign(map[string]any{"aud": "billing"})
	if _, err := newV(t, set).Verify(context.Background(), raw); !errors.Is(err, verifier.ErrWrongAudience) {
		t.Fatalf("err = %v", err)
	}
	any, _ := verifier.New(verifier.Config{Issuer: "https://auth.example", AnyAudience: true, Keys: set, Now: func() time.Time { return now }})
	if _, err := any.Verify(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
}

func TestMiddleware(t *testing.T) {
	k := newTestKey(t, "k1")
	set, _ := verifier.ParseJWKS([]byte(k.jwks()))
	mux := http.NewServeMux()
	mux.Handle("/orders", verifier.Middleware(newV(t, set))(verifier.RequireScopes("orders:read")(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cl, _ := verifier.ClaimsFromContext(r.Context())
			_, _ = w.Write([]byte(cl.Subject))
		}))))
	mux.Handle("/admin", verifier.Middleware(newV(t, set))(verifier.RequireScopes("orders:admin")(
		http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))))
	e := mux
	tests := []struct {
		name, path, auth string
		status           int
		challenge        string
	}{
		{"a good token reaches the handler with its claims", "/orders", "Bearer " + k.sign(nil), 200, ""},
		{"the scheme is case-insensitive", "/orders", "bearer " + k.sign(nil), 200, ""},
		{"no token gets a bare challenge", "/orders", "", 401, `Bearer realm="authledger"`},
		{"basic credentials are no token", "/orders", "Basic dXNlcjpwYXNz", 401, `Bearer realm="authledger"`},
		{"an expired token gets invalid_token", "/orders", "Bearer " + k.sign(map[string]any{"exp": now.Add(-time.Hour).Unix()}), 401,
			`Bearer realm="authledger", error="invalid_token", error_description="verifier: token expired"`},
		{"a missing scope gets 403 insufficient_scope", "/admin", "Bearer " + k.sign(nil), 403,
			`Bearer realm="authledger", error="insufficient_scope", scope="orders:admin"`},
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
		})
	}
}

func TestRemoteHonoursCacheControl(t *testing.T) {
	k := newTestKey(t, "k1")
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = w.Write([]byte(k.jwks()))
	}))
	defer srv.Close()
	clock := now
	remote, _ := verifier.NewRemote(verifier.RemoteConfig{URL: srv.URL, Now: func() time.Time { return clock }})
	ctx := context.Background()
	for range 10 {
		if _, err := remote.Key(ctx, "k1"); err != nil {
			t.Fatal(err)
		}
	}
	if hits != 1 {
		t.Fatalf("%d fetches inside max-age, want 1", hits)
	}
	clock = clock.Add(11 * time.Minute)
	if err := remote.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Key(ctx, "k1"); err != nil || hits != 2 {
		t.Fatalf("after a 304: %v, hits %d", err, hits)
	}
}

func FuzzVerify(f *testing.F) {
	k := newTestKey(f, "k1")
	set, _ := verifier.ParseJWKS([]byte(k.jwks()))
	v := newV(f, set)
	f.Add(k.sign(nil))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("..")
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(context.Background(), raw)
		if err == nil && (c == nil || c.Issuer != "https://auth.example") {
			t.Fatalf("accepted %q", raw)
		}
	})
}

func FuzzParseJWKS(f *testing.F) {
	f.Add([]byte(newTestKey(f, "k1").jwks()))
	f.Add([]byte(`{"keys":[{}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		set, err := verifier.ParseJWKS(b)
		if err == nil {
			for _, kid := range set.KIDs() {
				if k, _ := set.Key(context.Background(), kid); len(k) != ed25519.PublicKeySize {
					t.Fatalf("bad key for %q", kid)
				}
			}
		}
	})
}

func TestRemoteKeepsItsKeysWhenThePublishedSetIsBroken(t *testing.T) {
	k := newTestKey(t, "k1")
	body := k.jwks()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(body)) }))
	defer srv.Close()
	remote, _ := verifier.NewRemote(verifier.RemoteConfig{URL: srv.URL, Now: func() time.Time { return now }})
	v := newV(t, remote)
	ctx := context.Background()
	if _, err := v.Verify(ctx, k.sign(nil)); err != nil {
		t.Fatal(err)
	}
	evil := newTestKey(t, "k1")
	body = `{"keys":[` + strings.TrimSuffix(strings.TrimPrefix(k.jwks(), `{"keys":[`), `]}`) + `,` +
		strings.TrimSuffix(strings.TrimPrefix(evil.jwks(), `{"keys":[`), `]}`) + `]}`
	if err := remote.Refresh(ctx); !errors.Is(err, verifier.ErrDuplicateKID) {
		t.Fatalf("refresh = %v", err)
	}
	if _, err := v.Verify(ctx, k.sign(nil)); err != nil {
		t.Fatalf("the known key stopped working: %v", err)
	}
	if _, err := v.Verify(ctx, evil.sign(nil)); !errors.Is(err, verifier.ErrBadSignature) {
		t.Fatalf("the injected duplicate was trusted: %v", err)
	}
}
