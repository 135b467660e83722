package commands

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Ed25519 signatures are deterministic, so the compact signer must give
// exactly go-jose's bytes for the same key, header and payload.
func TestCompactSignerIsByteForByteGoJose(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	for i, typ := range []string{"at+jwt", "m2m+jwt", checkpointType} {
		kid := fmt.Sprintf("key-%d", i)
		cs, err := newCompactSigner(priv, kid, typ)
		if err != nil {
			t.Fatal(err)
		}
		js, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: priv}, (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader(jose.HeaderKey("kid"), kid))
		if err != nil {
			t.Fatal(err)
		}
		for n := range 50 {
			payload := make([]byte, n*7)
			_, _ = rand.Read(payload)
			obj, err := js.Sign(payload)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := obj.CompactSerialize()
			if got := cs.sign(payload); got != want {
				t.Fatalf("typ %s, %d bytes:\n got %s\nwant %s", typ, len(payload), got, want)
			}
		}
	}
}

// The claims marshalled directly mean what go-jose's builder made of the
// same claims: same members, same values, one audience as a string.
func TestClaimsMarshalLikeTheJWTBuilder(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Unix(1_800_000_000, 0)
	for _, aud := range [][]string{{"https://api.test"}, {"a", "b"}} {
		for _, full := range []bool{false, true} {
			cl := jwtClaims{Issuer: "https://as.test", Subject: "user-1", Audience: audience(aud), Expiry: now.Add(time.Minute).Unix(),
				IssuedAt: now.Unix(), NotBefore: now.Unix(), ID: "jti-1", ClientID: "web"}
			old := map[string]any{"iss": "https://as.test", "sub": "user-1", "aud": jwt.Audience(aud), "exp": jwt.NewNumericDate(now.Add(time.Minute)),
				"iat": jwt.NewNumericDate(now), "nbf": jwt.NewNumericDate(now), "jti": "jti-1", "client_id": "web"}
			if full {
				cl.Scope, cl.SessionID, cl.AuthTime, cl.ACR, cl.AMR = "a b", "sess", now.Unix()-5, "aal2", []string{"pwd", "otp"}
				old["scope"], old["sid"], old["auth_time"], old["acr"], old["amr"] = "a b", "sess", jwt.NewNumericDate(now.Add(-5*time.Second)), "aal2", []string{"pwd", "otp"}
			}
			js, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: priv}, nil)
			raw, err := jwt.Signed(js).Claims(old).Serialize()
			if err != nil {
				t.Fatal(err)
			}
			tok, _ := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.EdDSA})
			var want map[string]any
			if err := tok.UnsafeClaimsWithoutVerification(&want); err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(cl)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			_ = json.Unmarshal(b, &got)
			if g, w := fmt.Sprint(got), fmt.Sprint(want); g != w {
				t.Fatalf("aud %v full %v:\n got %s\nwant %s", aud, full, g, w)
			}
			if len(aud) == 1 && !strings.Contains(string(b), `"aud":"`+aud[0]+`"`) {
				t.Fatalf("one audience is not a string: %s", b)
			}
		}
	}
}

func BenchmarkCompactSign(b *testing.B) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	cs, _ := newCompactSigner(priv, "k1", "at+jwt")
	payload, _ := json.Marshal(jwtClaims{Issuer: "https://as.test", Subject: "svc-1", Audience: audience{"https://api.test"}, ID: "AAAAAAAAAAAAAAAAAAAAAA", ClientID: "svc-1"})
	b.ReportAllocs()
	for b.Loop() {
		_ = cs.sign(payload)
	}
}
