package verifier_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/authledger/authledger/client/verifier"
)

// signRaw signs a header and payload exactly as written, so a test can
// send what json.Marshal never produces: duplicate and case-variant names.
func (k testKey) signRaw(header, payload string) string {
	in := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(k.priv, []byte(in)))
}

const (
	okHeader = `{"alg":"EdDSA","typ":"at+jwt","kid":"k1"}`
	claimsA  = `"iss":"https://auth.example","aud":"api","exp":1777629660,"iat":1777629600,"jti":"j","client_id":"svc"`
)

// JWT names are case-sensitive and unique (RFC 7515 §4, RFC 7519 §4): a
// verifier that lets the last duplicate win, or reads "SUB" as "sub", sees
// a different token than a verifier that does not.
func TestVerifyReadsNamesExactlyAndRefusesDuplicates(t *testing.T) {
	t.Parallel()
	k := newTestKey(t, "k1")
	set, _ := verifier.ParseJWKS([]byte(k.jwks()))
	v := newV(t, set)
	ctx := context.Background()

	if c, err := v.Verify(ctx, k.signRaw(okHeader, `{`+claimsA+`,"sub":"svc","scope":"orders:read"}`)); err != nil || c.Subject != "svc" {
		t.Fatalf("the plain token: %v %+v", err, c)
	}
	for _, tc := range []struct{ name, header, payload string }{
		{"a duplicate claim", okHeader, `{` + claimsA + `,"sub":"svc","sub":"admin"}`},
		{"a duplicate scope", okHeader, `{` + claimsA + `,"sub":"svc","scope":"orders:read","scope":"admin"}`},
		{"a duplicate header parameter", `{"alg":"EdDSA","typ":"at+jwt","kid":"k1","kid":"k2"}`, `{` + claimsA + `,"sub":"svc"}`},
		{"a duplicate alg", `{"alg":"EdDSA","alg":"none","typ":"at+jwt","kid":"k1"}`, `{` + claimsA + `,"sub":"svc"}`},
		{"a header with trailing data", okHeader + ` {}`, `{` + claimsA + `,"sub":"svc"}`},
		{"a payload with trailing data", okHeader, `{` + claimsA + `,"sub":"svc"} {}`},
		{"a payload that is not an object", okHeader, `["svc"]`},
	} {
		if _, err := v.Verify(ctx, k.signRaw(tc.header, tc.payload)); !errors.Is(err, verifier.ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", tc.name, err)
		}
	}

	// A case variant is another, unknown name: ignored, never read as the
	// registered one.
	c, err := v.Verify(ctx, k.signRaw(okHeader, `{`+claimsA+`,"sub":"svc","SUB":"admin","Scope":"admin","scope":"orders:read"}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "svc" || len(c.Scope) != 1 || c.Scope[0] != "orders:read" {
		t.Fatalf("case variants were read as claims: %+v", c)
	}
	if _, err := v.Verify(ctx, k.signRaw(`{"alg":"EdDSA","typ":"at+jwt","KID":"k1"}`, `{`+claimsA+`,"sub":"svc"}`)); !errors.Is(err, verifier.ErrInvalidKID) {
		t.Fatalf("a KID header parameter was read as kid: %v", err)
	}
	if _, err := v.Verify(ctx, k.signRaw(`{"ALG":"EdDSA","typ":"at+jwt","kid":"k1"}`, `{`+claimsA+`,"sub":"svc"}`)); !errors.Is(err, verifier.ErrUnsupportedAlg) {
		t.Fatalf("an ALG header parameter was read as alg: %v", err)
	}
}
