package verifier_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/authledger/authledger/client/verifier"
)

// issuer stands in for authledger in the examples: an Ed25519 key made at
// run time, its JWKS, and access tokens (RFC 9068) signed with it.
type issuer struct {
	kid  string
	priv ed25519.PrivateKey
}

func newIssuer(kid string) issuer {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		log.Fatal(err)
	}
	return issuer{kid: kid, priv: priv}
}

func (i issuer) jwks() []byte {
	b, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": i.kid,
		"x": base64.RawURLEncoding.EncodeToString(i.priv.Public().(ed25519.PublicKey)),
	}}})
	return b
}

func (i issuer) token(sub, aud, scope string) string {
	now := time.Now()
	h, _ := json.Marshal(map[string]string{"alg": "EdDSA", "typ": "at+jwt", "kid": i.kid})
	p, _ := json.Marshal(map[string]any{"iss": "https://auth.example", "sub": sub, "aud": aud, "client_id": sub,
		"scope": scope, "jti": fmt.Sprint(now.UnixNano()), "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()})
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(i.priv, []byte(in)))
}

// A resource server accepts authledger access tokens: the JWKS is fetched
// once and cached, so requests never call authledger. Here the issuer's
// jwks_uri is a local test server.
func Example() {
	auth := newIssuer("k1")
	jwksURI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(auth.jwks())
	}))
	defer jwksURI.Close()

	keys, err := verifier.NewRemote(verifier.RemoteConfig{URL: jwksURI.URL})
	if err != nil {
		log.Fatal(err)
	}
	v, err := verifier.New(verifier.Config{
		Issuer:    "https://auth.example",
		Audiences: []string{"api"},
		Keys:      keys,
		Leeway:    verifier.DefaultLeeway,
	})
	if err != nil {
		log.Fatal(err)
	}
	// Plain net/http; client/echoverifier has the same for Echo.
	e := http.NewServeMux()
	e.Handle("GET /orders", verifier.Middleware(v)(verifier.RequireScopes("orders:read")(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			claims, _ := verifier.ClaimsFromContext(r.Context())
			_, _ = w.Write([]byte("orders of " + claims.Subject))
		}))))

	get := func(token string) {
		req := httptest.NewRequest(http.MethodGet, "/orders", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	get(auth.token("billing", "api", "orders:read"))
	get(auth.token("billing", "api", "orders:write"))           // lacks the scope
	get(auth.token("billing", "another-api", "orders:read"))    // not for this API
	get(newIssuer("k1").token("billing", "api", "orders:read")) // another key claiming kid k1
	fmt.Println("leeway:", verifier.DefaultLeeway)
	// Output:
	// 200 orders of billing
	// 403 {"error":"insufficient_scope","error_description":"verifier: insufficient scope"}
	// 401 {"error":"invalid_token","error_description":"verifier: wrong audience"}
	// 401 {"error":"invalid_token","error_description":"verifier: signature invalid"}
	// leeway: 30s
}

// ExampleParseJWKS verifies against keys the service already holds, e.g.
// the issuer's own in-process key set or a pinned JWKS file.
func ExampleParseJWKS() {
	auth := newIssuer("k1")
	set, err := verifier.ParseJWKS(auth.jwks())
	if err != nil {
		log.Fatal(err)
	}
	v, err := verifier.New(verifier.Config{Issuer: "https://auth.example", Audiences: []string{"api"}, Keys: set, Leeway: 10 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	claims, err := v.Verify(context.Background(), auth.token("billing", "api", "orders:read orders:write"))
	fmt.Println(err)
	fmt.Println(claims.Subject, claims.Scope, claims.KeyID, claims.HasScope("orders:write"))

	// A token signed by a key outside the set, with a kid the set lacks.
	_, err = v.Verify(context.Background(), newIssuer("k2").token("billing", "api", "orders:read"))
	fmt.Println(errors.Is(err, verifier.ErrUnknownKey))
	// Output:
	// <nil>
	// billing [orders:read orders:write] k1 true
	// true
}
