package verifier_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authledger/authledger/client/dpop"
	"github.com/authledger/authledger/client/verifier"
)

const htu = "https://rs.example/orders"

func newProofChecker(t testing.TB) *verifier.ProofChecker {
	t.Helper()
	pc, err := verifier.NewProofChecker(verifier.ProofConfig{Replay: verifier.NewMemoryReplayCache(func() time.Time { return now }), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

func newDPoPKey(t testing.TB) *dpop.Key {
	t.Helper()
	k, err := dpop.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newES256Key(t testing.TB) *dpop.Key {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := dpop.FromPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustProof(t testing.TB, k *dpop.Key, method, uri string, o dpop.ProofOptions) string {
	t.Helper()
	if o.Now.IsZero() {
		o.Now = now
	}
	p, err := k.Proof(method, uri, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// handProof builds a proof from raw parts, for the shapes dpop.Key never
// makes: other algs, private keys, a missing jwk.
func handProof(hdr, claims map[string]any, sign func(in []byte) []byte) string {
	h, _ := json.Marshal(hdr)
	c, _ := json.Marshal(claims)
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	return in + "." + base64.RawURLEncoding.EncodeToString(sign([]byte(in)))
}

func edJWK(priv ed25519.PrivateKey, withPrivate bool) map[string]any {
	m := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(priv.Public().(ed25519.PublicKey))}
	if withPrivate {
		m["d"] = base64.RawURLEncoding.EncodeToString(priv.Seed())
	}
	return m
}

func goodClaims() map[string]any {
	return map[string]any{"jti": "j-1", "htm": "GET", "htu": htu, "iat": now.Unix()}
}

func TestProofChecksOfRFC9449Section4_3(t *testing.T) {
	t.Parallel()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	edSign := func(in []byte) []byte { return ed25519.Sign(priv, in) }
	hdr := func(over map[string]any) map[string]any {
		h := map[string]any{"typ": "dpop+jwt", "alg": "EdDSA", "jwk": edJWK(priv, false)}
		for k, v := range over {
			if v == nil {
				delete(h, k)
			} else {
				h[k] = v
			}
		}
		return h
	}
	claims := func(over map[string]any) map[string]any {
		c := goodClaims()
		for k, v := range over {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	k := newDPoPKey(t)
	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec, err := dpop.FromPrivateKey(ecPriv)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		proof string
		req   verifier.ProofRequest
		want  error // nil: accepted
	}{
		{"an EdDSA proof from dpop.Key is accepted", mustProof(t, k, "GET", htu, dpop.ProofOptions{}), verifier.ProofRequest{Method: "GET", URI: htu}, nil},
		{"an ES256 proof is accepted", mustProof(t, ec, "GET", htu, dpop.ProofOptions{}), verifier.ProofRequest{Method: "GET", URI: htu}, nil},
		{"a hand-built proof is accepted", handProof(hdr(nil), claims(nil), edSign), verifier.ProofRequest{Method: "GET", URI: htu}, nil},
		{"RFC 9864's alg Ed25519 is accepted", handProof(hdr(map[string]any{"alg": "Ed25519"}), claims(nil), edSign), verifier.ProofRequest{Method: "GET", URI: htu}, nil},
		{"an Ed25519 proof signed by another key is refused", handProof(hdr(map[string]any{"alg": "Ed25519"}), claims(nil), func(in []byte) []byte { return ed25519.Sign(other, in) }), verifier.ProofRequest{Method: "GET", URI: htu}, verifier.ErrDPoPBadSignature},
		{"alg Ed25519 with a P-256 jwk is refused", handProof(hdr(map[string]any{"alg": "Ed25519", "jwk": map[string]any{"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}}), claims(nil), edSign), verifier.ProofRequest{Method: "GET", URI: htu}, verifier.ErrDPoPBadKey},
		{"the wrong htm is refused", mustProof(t, k, "POST", htu, dpop.ProofOptions{}), verifier.ProofRequest{Method: "GET", URI: htu}, verifier.ErrDPoPWrongMethod},
		{"htm is case-sensitive", handProof(hdr(nil), claims(map[string]any{"htm": "get"}), edSign), verifier.ProofRequest{Method: "GET", URI: htu}, verifier.ErrDPoPWrongMethod},
		{"another path is the wrong htu", mustProof(t, k, "GET", htu+"/1", dpop.ProofOptions{}), verifier.ProofRequest{Method: "GET", URI: htu}, verifier.ErrDPoPWrongURI},
		{"another host is the wrong htu", mustProof(t, k, "GET", "https://evil.example/orders", dpop.ProofOptions{}), verifier.ProofRequest{Method: "GET", URI: htu}, verifier.ErrDPoPWrongURI},
		{"another scheme is the wrong htu", mustProof(t, k, "GET", "http://rs.example/orders", dpop.ProofOptions{}), verifier.ProofRequest{Method: "GET", URI: htu}, verifier.ErrDPoPWrongURI},
		{"another port is the wrong htu", mustProof(t, k, "GET", "https://rs.example:8443/orders", dpop.ProofOptions{}), verifier.ProofRequest{Method: "GET", URI: htu}, verifier.ErrDPoPWrongURI},
		{"a relative htu is refused", handProof(hdr(nil), claims(map[string]any{"htu": "/orders"}), edSign), verifier.ProofRequest{Method: "GET", URI: htu}, verifier.ErrDPoPWrongURI},
		{"a query in htu is ignored", handProof(hdr(nil), claims(map[string]any{"htu": htu + "?a=1"}), edSign), verifier.ProofRequest{Method: "GET", URI: htu}, nil},
		{"a fragment in htu is ignored", handProof(hdr(nil), claims(map[string]any{"htu": htu + "#x"}), edSign), verifier.ProofRequest{Method: "GET", URI: htu}, nil},
		{"the request's query is ignored", mustProof(t, k, "GET", htu, dpop.ProofOptions{}), verifier.ProofRequest{Method: "GET", URI: htu + "?page=2"}, nil},
		{"a query cannot stand in for the path", handProof(hdr(nil), claims(map[string]any{"htu": "https://rs.example/?/orders"}), edSign), verifier.ProofRequest{Method: "GET", URI: htu}, verifier.ErrDPoPWrongURI},
		{"host case, default port and escapes are normalised", handProof(hdr(nil), claims(map[string]any{"htu": "HTTPS://RS.Example:443/%6Frders"}), edSign), verifier.ProofRequest{Method: "GET", URI: htu}, nil},
		{"an empty path is /", handProof(hdr(nil), claims(map[string]any{"htu": "https://rs.example"}), edSign), verifier.ProofRequest{Method: "GET", URI: "https://rs.example/"}, nil},
		{"a stale iat is refused", mustProof(t, k, "GET", htu, dpop.ProofOptions{Now: now.Add(-2 * time.Minute)}), verifier.ProofRequest{Method: "GET", URI: htu}, verifier.ErrDPoPStale},
		{"a future iat is refused", mustProof(t, k, "GET", htu, dpop.ProofOptions{Now: now.Add(time.Minute)}), verifier.ProofRequest{Method: "GET", URI: htu}, verifier.ErrDPoPStale},
		{"an iat within the skew is accepted", mustProof(t, k, "GET", htu, dpop.ProofOptions{Now: now.Add(3 * time.Second)}), verifier.ProofRequest{Method: "GET", URI: htu}, nil},
		{"a private key in jwk is refused", handProof(hdr(map[string]any{"jwk": edJWK(priv, true)}), claims(nil), edSign), verifier.ProofRequest{Method: "GET", URI: htu}, verifier.ErrDPoPBadKey},
		{"a symmetric jwk is refused", handProof(hdr(map[string]any{"jwk": map[string]any{"kty": "oct", "k": "c2VjcmV0"}}), claims(nil), edSign), verifier.ProofRequest{Method: "GET", URI: htu}, verifier.ErrDPoPBadKey},
		{"no jwk is refused", handProof(hdr(map[string]any{"jwk": nil}), claims(nil), edSign), verifier.ProofRequest{Method: "GET", URI: htu}, verifier.ErrDPoPBadKey},
		{"a jwk of another key type than alg is refused", handProof(hdr(map[string]any{"alg": "ES256"}), claims(nil), edSign), verifier.ProofRequest{Method: "GET", URI: htu}, verifier.ErrDPoPBadKey},
		{"alg none is refused", handProof(hdr(map[string]any{"alg": "none"}), claims(nil), func([]byte) []byte { return nil }), verifier.ProofRequest{Method: "GET", URI: htu}, verifier.ErrDPoPUnsupportedAlg},
		{"an HMAC alg is refused", handProof(hdr(map[string]any{"alg": "HS256", "jwk": map[string]any{"kty": "oct", "k": "c2VjcmV0"}}), claims(nil), func(in []byte) []byte {
			m := hmac.New(sha256.New, []byte("secret"))
			m.Write(in)
			return m.Sum(nil)
		}), verifier.ProofRequest{Method: "GET", URI: htu}, verifier.ErrDPoPUnsupportedAlg},
		{"typ JWT is refused", handProof(hdr(map[string]any{"typ": "JWT"}), claims(nil), edSign), verifier.ProofRequest{Method: "GET", URI: htu}, verifier.ErrDPoPWrongType},
		{"a signature by another key than jwk is refused", handProof(hdr(nil), claims(nil), func(in []byte) []byte { return ed25519.Sign(other, in) }), verifier.ProofRequest{Method: "GET", URI: htu}, verifier.ErrDPoPBadSignature},
		{"a missing jti is refused", handProof(hdr(nil), claims(map[string]any{"jti": nil}), edSign), verifier.ProofRequest{Method: "GET", URI: htu}, verifier.ErrDPoPMissingClaim},
		{"a missing iat is refused", handProof(hdr(nil), claims(map[string]any{"iat": nil}), edSign), verifier.ProofRequest{Method: "GET", URI: htu}, verifier.ErrDPoPMissingClaim},
		{"a missing ath is refused when a token comes along", mustProof(t, k, "GET", htu, dpop.ProofOptions{}), verifier.ProofRequest{Method: "GET", URI: htu, AccessToken: "tok"}, verifier.ErrDPoPWrongAccessToken},
		{"an ath of another token is refused", mustProof(t, k, "GET", htu, dpop.ProofOptions{AccessToken: "other"}), verifier.ProofRequest{Method: "GET", URI: htu, AccessToken: "tok"}, verifier.ErrDPoPWrongAccessToken},
		{"the right ath is accepted", mustProof(t, k, "GET", htu, dpop.ProofOptions{AccessToken: "tok"}), verifier.ProofRequest{Method: "GET", URI: htu, AccessToken: "tok"}, nil},
		{"an oversized proof is refused before parsing", strings.Repeat("a", verifier.DefaultMaxProofBytes+1), verifier.ProofRequest{Method: "GET", URI: htu}, verifier.ErrDPoPProofTooLarge},
		{"garbage is malformed", "a.b.c", verifier.ProofRequest{Method: "GET", URI: htu}, verifier.ErrDPoPMalformed},
		{"a missing nonce asks for one", mustProof(t, k, "GET", htu, dpop.ProofOptions{}), verifier.ProofRequest{Method: "GET", URI: htu, Nonce: "n1"}, verifier.ErrUseDPoPNonce},
		{"the expected nonce is accepted", mustProof(t, k, "GET", htu, dpop.ProofOptions{Nonce: "n1"}), verifier.ProofRequest{Method: "GET", URI: htu, Nonce: "n1"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := newProofChecker(t).Check(context.Background(), tt.proof, tt.req)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if p.JKT == "" {
					t.Fatal("no thumbprint")
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if tt.want != verifier.ErrUseDPoPNonce && !errors.Is(err, verifier.ErrInvalidDPoPProof) {
				t.Fatalf("%v is not an invalid_dpop_proof", err)
			}
		})
	}
}

func TestProofDuplicateClaimIsRefused(t *testing.T) {
	t.Parallel()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	h, _ := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": "EdDSA", "jwk": edJWK(priv, false)})
	body := `{"jti":"a","htm":"GET","htu":"` + htu + `","htu":"https://evil.example/orders","iat":` + jsonInt(now.Unix()) + `}`
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString([]byte(body))
	raw := in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(priv, []byte(in)))
	if _, err := newProofChecker(t).Check(context.Background(), raw, verifier.ProofRequest{Method: "GET", URI: htu}); !errors.Is(err, verifier.ErrDPoPMalformed) {
		t.Fatalf("got %v", err)
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestProofThumbprintIsRFC7638(t *testing.T) {
	t.Parallel()
	// RFC 8037 §A.3: the Ed25519 key of §A.2 has this RFC 7638 thumbprint.
	x, _ := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	seed, _ := base64.RawURLEncoding.DecodeString("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
	priv := ed25519.NewKeyFromSeed(seed)
	if string(priv.Public().(ed25519.PublicKey)) != string(x) {
		t.Fatal("test vector mismatch")
	}
	k, err := dpop.FromPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	const want = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
	if k.Thumbprint() != want {
		t.Fatalf("dpop.Key thumbprint %s, want %s", k.Thumbprint(), want)
	}
	p, err := newProofChecker(t).Check(context.Background(), mustProof(t, k, "GET", htu, dpop.ProofOptions{}), verifier.ProofRequest{Method: "GET", URI: htu})
	if err != nil || p.JKT != want {
		t.Fatalf("checker thumbprint %v, %v", p, err)
	}
}

func TestProofReplayIsRefused(t *testing.T) {
	t.Parallel()
	pc := newProofChecker(t)
	k := newDPoPKey(t)
	p := mustProof(t, k, "GET", htu, dpop.ProofOptions{})
	req := verifier.ProofRequest{Method: "GET", URI: htu}
	if _, err := pc.Check(context.Background(), p, req); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.Check(context.Background(), p, req); !errors.Is(err, verifier.ErrDPoPReplayed) {
		t.Fatalf("replay: %v", err)
	}
}

type failingCache struct{}

func (failingCache) Claim(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("down")
}

func TestProofReplayCacheOutageFailsClosed(t *testing.T) {
	t.Parallel()
	pc, _ := verifier.NewProofChecker(verifier.ProofConfig{Replay: failingCache{}, Now: func() time.Time { return now }})
	_, err := pc.Check(context.Background(), mustProof(t, newDPoPKey(t), "GET", htu, dpop.ProofOptions{}), verifier.ProofRequest{Method: "GET", URI: htu})
	if !errors.Is(err, verifier.ErrDPoPReplayUnavailable) {
		t.Fatalf("got %v", err)
	}
}

// dpopV is a verifier accepting DPoP on https://rs.example.
func dpopV(t testing.TB, keys verifier.KeySource) *verifier.Verifier {
	t.Helper()
	v, err := verifier.New(verifier.Config{Issuer: "https://auth.example", Audiences: []string{"api"}, Keys: keys, Leeway: 5 * time.Second,
		Now: func() time.Time { return now }, DPoP: newProofChecker(t)})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func dpopRequest(auth string, proofs ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, htu, nil)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	for _, p := range proofs {
		r.Header.Add("DPoP", p)
	}
	return r
}

func TestVerifyRequest(t *testing.T) {
	t.Parallel()
	issuer := newTestKey(t, "k1")
	set, _ := verifier.ParseJWKS([]byte(issuer.jwks()))
	a, b := newDPoPKey(t), newDPoPKey(t)
	bound := issuer.sign(map[string]any{"cnf": map[string]any{"jkt": a.Thumbprint()}})
	plain := issuer.sign(nil)
	forged := bound[:len(bound)-4] + "AAAA"
	proof := func(k *dpop.Key, tok string) string {
		return mustProof(t, k, "GET", htu, dpop.ProofOptions{AccessToken: tok})
	}
	tests := []struct {
		name string
		req  *http.Request
		want error
	}{
		{"a bound token with its key's proof is accepted", dpopRequest("DPoP "+bound, proof(a, bound)), nil},
		{"the DPoP scheme is case-insensitive", dpopRequest("dpop "+bound, proof(a, bound)), nil},
		{"a plain bearer token is accepted as before", dpopRequest("Bearer " + plain), nil},
		{"a token bound to key A with a proof from key B is refused", dpopRequest("DPoP "+bound, proof(b, bound)), verifier.ErrDPoPKeyMismatch},
		{"a DPoP-bound token sent as Bearer is refused", dpopRequest("Bearer "+bound, proof(a, bound)), verifier.ErrBoundTokenAsBearer},
		{"a DPoP-bound token sent as Bearer without proof is refused", dpopRequest("Bearer " + bound), verifier.ErrBoundTokenAsBearer},
		{"an unbound token under DPoP is refused", dpopRequest("DPoP "+plain, proof(a, plain)), verifier.ErrTokenNotBound},
		{"DPoP without a proof is refused", dpopRequest("DPoP " + bound), verifier.ErrDPoPProofMissing},
		{"DPoP with two proofs is refused", dpopRequest("DPoP "+bound, proof(a, bound), proof(a, bound)), verifier.ErrDPoPProofMissing},
		{"a proof without ath is refused", dpopRequest("DPoP "+bound, mustProof(t, a, "GET", htu, dpop.ProofOptions{})), verifier.ErrDPoPWrongAccessToken},
		{"a proof whose ath is another token's is refused", dpopRequest("DPoP "+bound, proof(a, plain)), verifier.ErrDPoPWrongAccessToken},
		{"a forged token is refused", dpopRequest("DPoP "+forged, proof(a, forged)), verifier.ErrBadSignature},
		{"no Authorization is no token", dpopRequest(""), verifier.ErrNoToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := dpopV(t, set).VerifyRequest(tt.req)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if strings.HasPrefix(strings.ToLower(tt.req.Header.Get("Authorization")), "dpop ") != (c.JKT != "") {
					t.Fatalf("JKT %q", c.JKT)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyRequestBoundTokenIsRefusedWithoutDPoPConfig(t *testing.T) {
	t.Parallel()
	issuer := newTestKey(t, "k1")
	set, _ := verifier.ParseJWKS([]byte(issuer.jwks()))
	a := newDPoPKey(t)
	bound := issuer.sign(map[string]any{"cnf": map[string]any{"jkt": a.Thumbprint()}})
	v := newV(t, set)
	if _, err := v.VerifyRequest(dpopRequest("Bearer " + bound)); !errors.Is(err, verifier.ErrBoundTokenAsBearer) {
		t.Fatalf("bearer: %v", err)
	}
	if _, err := v.VerifyRequest(dpopRequest("DPoP "+bound, mustProof(t, a, "GET", htu, dpop.ProofOptions{AccessToken: bound}))); !errors.Is(err, verifier.ErrDPoPNotAccepted) {
		t.Fatalf("dpop: %v", err)
	}
	if _, err := v.Verify(context.Background(), issuer.sign(map[string]any{"cnf": map[string]any{"x5t#S256": "abc"}})); !errors.Is(err, verifier.ErrMalformed) {
		t.Fatalf("a cnf without jkt: %v", err)
	}
}

func TestVerifyRequestSpendsAJTIOnlyWhenEverythingHolds(t *testing.T) {
	t.Parallel()
	issuer := newTestKey(t, "k1")
	set, _ := verifier.ParseJWKS([]byte(issuer.jwks()))
	a := newDPoPKey(t)
	bound := issuer.sign(map[string]any{"cnf": map[string]any{"jkt": a.Thumbprint()}})
	v := dpopV(t, set)
	p := mustProof(t, a, "GET", htu, dpop.ProofOptions{AccessToken: bound})
	// The same proof with an expired copy of the token: refused, and the
	// jti must not be spent by the refusal.
	if _, err := v.VerifyRequest(dpopRequest("Bearer "+bound, p)); err == nil {
		t.Fatal("bearer accepted")
	}
	if _, err := v.VerifyRequest(dpopRequest("DPoP "+bound, p)); err != nil {
		t.Fatalf("first real use: %v", err)
	}
	if _, err := v.VerifyRequest(dpopRequest("DPoP "+bound, p)); !errors.Is(err, verifier.ErrDPoPReplayed) {
		t.Fatalf("replay: %v", err)
	}
}

func TestMiddlewareDPoPChallenges(t *testing.T) {
	t.Parallel()
	issuer := newTestKey(t, "k1")
	set, _ := verifier.ParseJWKS([]byte(issuer.jwks()))
	a, b := newDPoPKey(t), newDPoPKey(t)
	bound := issuer.sign(map[string]any{"cnf": map[string]any{"jkt": a.Thumbprint()}})
	e := verifier.Middleware(dpopV(t, set))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cl, _ := verifier.ClaimsFromContext(r.Context())
		_, _ = w.Write([]byte(cl.JKT))
	}))
	const algs = `algs="EdDSA Ed25519 ES256"`
	tests := []struct {
		name      string
		req       *http.Request
		status    int
		challenge string
	}{
		{"a good DPoP request reaches the handler", dpopRequest("DPoP "+bound, mustProof(t, a, "GET", htu, dpop.ProofOptions{AccessToken: bound})), 200, ""},
		{"no token gets both challenges", dpopRequest(""), 401, `Bearer realm="authledger", DPoP ` + algs},
		{"a proof by another key is invalid_dpop_proof", dpopRequest("DPoP "+bound, mustProof(t, b, "GET", htu, dpop.ProofOptions{AccessToken: bound})), 401,
			`DPoP error="invalid_dpop_proof", error_description="verifier: DPoP proof key does not match the token's cnf.jkt", ` + algs},
		{"a bound token as Bearer is told to use DPoP", dpopRequest("Bearer " + bound), 401,
			`DPoP error="invalid_token", error_description="verifier: DPoP-bound token presented as a bearer token", ` + algs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, tt.req)
			if rec.Code != tt.status || rec.Header().Get("WWW-Authenticate") != tt.challenge {
				t.Fatalf("status %d challenge %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
			}
			if tt.status == 200 && rec.Body.String() != a.Thumbprint() {
				t.Fatalf("claims JKT %q", rec.Body.String())
			}
		})
	}
}

func FuzzParseProof(f *testing.F) {
	k, _ := dpop.NewKey()
	p, _ := k.Proof("POST", "https://as.example/oauth2/token", dpop.ProofOptions{AccessToken: "t", Nonce: "n"})
	f.Add(p)
	f.Add("eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6Im5vbmUifQ.e30.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, raw string) {
		pp, err := verifier.ParseProof(raw)
		if err == nil && (pp.JKT == "" || pp.JTI == "" || pp.HTU == "" || pp.Method == "") {
			t.Fatalf("accepted a proof without its parts: %+v", pp)
		}
		if err != nil && !errors.Is(err, verifier.ErrInvalidDPoPProof) {
			t.Fatalf("error %v is not an invalid proof", err)
		}
	})
}
