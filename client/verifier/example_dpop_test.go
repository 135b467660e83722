package verifier_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/authledger/authledger/client/dpop"
	"github.com/authledger/authledger/client/verifier"
)

// boundToken is an access token bound to the DPoP key with thumbprint jkt
// (cnf.jkt, RFC 9449 §6.1), as authledger issues one for a token request
// that carried a proof.
func (i issuer) boundToken(sub, aud, jkt string) string {
	now := time.Now()
	h, _ := json.Marshal(map[string]string{"alg": "EdDSA", "typ": "at+jwt", "kid": i.kid})
	p, _ := json.Marshal(map[string]any{"iss": "https://auth.example", "sub": sub, "aud": aud, "client_id": sub,
		"jti": fmt.Sprint(now.UnixNano()), "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "cnf": map[string]string{"jkt": jkt}})
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(i.priv, []byte(in)))
}

// A resource server that accepts DPoP-bound tokens (RFC 9449 §7): the
// token and the request's proof are checked together, and a bound token
// sent as a plain Bearer token is refused.
func ExampleVerifier_VerifyRequest() {
	auth := newIssuer("k1")
	keys, err := verifier.ParseJWKS(auth.jwks())
	if err != nil {
		log.Fatal(err)
	}
	proofs, err := verifier.NewProofChecker(verifier.ProofConfig{Replay: verifier.NewMemoryReplayCache(nil)})
	if err != nil {
		log.Fatal(err)
	}
	v, err := verifier.New(verifier.Config{Issuer: "https://auth.example", Audiences: []string{"api"}, Keys: keys,
		Leeway: verifier.DefaultLeeway, DPoP: proofs})
	if err != nil {
		log.Fatal(err)
	}

	// The client's side: its key, a token bound to it, a proof per request.
	key, _ := dpop.NewKey()
	tok := auth.boundToken("svc-orders", "api", key.Thumbprint())
	proof, _ := key.Proof(http.MethodGet, "https://orders.example/orders", dpop.ProofOptions{AccessToken: tok})

	r := httptest.NewRequest(http.MethodGet, "https://orders.example/orders", nil)
	r.Header.Set("Authorization", "DPoP "+tok)
	r.Header.Set("DPoP", proof)
	claims, err := v.VerifyRequest(r)
	fmt.Println(claims.Subject, claims.JKT == key.Thumbprint(), err)

	stolen := httptest.NewRequest(http.MethodGet, "https://orders.example/orders", nil)
	stolen.Header.Set("Authorization", "Bearer "+tok)
	_, err = v.VerifyRequest(stolen)
	fmt.Println(err)
	// Output:
	// svc-orders true <nil>
	// verifier: DPoP-bound token presented as a bearer token
}
