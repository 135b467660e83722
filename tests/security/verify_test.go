package security_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authledger/authledger/client/verifier"
	"github.com/authledger/authledger/commands"
)

func TestForgedTokensFailWithThePreciseError(t *testing.T) {
	s := newStack(t)
	kid, priv := s.activePriv()
	now := s.clock.Now()
	claims := func(change func(m map[string]any)) map[string]any {
		m := map[string]any{"iss": issuer, "sub": "svc-1", "aud": []string{"api"}, "exp": now.Add(5 * time.Minute).Unix(),
			"iat": now.Unix(), "nbf": now.Unix(), "jti": "j1", "client_id": "svc-1", "scope": "read"}
		if change != nil {
			change(m)
		}
		return m
	}
	hdr := func(change func(m map[string]any)) map[string]any {
		m := map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": kid}
		if change != nil {
			change(m)
		}
		return m
	}
	ok := forge(hdr(nil), claims(nil), edSigner(priv))
	_, _, otherPriv := func() (string, ed25519.PublicKey, ed25519.PrivateKey) {
		pub, pr, _ := ed25519.GenerateKey(nil)
		return "", pub, pr
	}()
	pubX, _ := s.model.Key(context.Background(), kid)
	h, p, sig := parts(ok)
	tamperedPayload := forge(hdr(nil), claims(func(m map[string]any) { m["scope"] = "read admin" }), nil)
	_, tp, _ := parts(tamperedPayload)

	tests := []struct {
		name string
		raw  string
		want error
	}{
		{"a correctly signed token verifies", ok, nil},
		{"alg none is refused", forge(hdr(func(m map[string]any) { m["alg"] = "none" }), claims(nil), nil), verifier.ErrUnsupportedAlg},
		{"alg none with an empty signature part is refused", strings.TrimSuffix(forge(hdr(func(m map[string]any) { m["alg"] = "none" }), claims(nil), nil), "."), verifier.ErrMalformed},
		{"HS256 signed with the public key is refused", forge(hdr(func(m map[string]any) { m["alg"] = "HS256" }), claims(nil), hmacSigner(pubX)), verifier.ErrUnsupportedAlg},
		{"an RS256 header is refused", forge(hdr(func(m map[string]any) { m["alg"] = "RS256" }), claims(nil), edSigner(priv)), verifier.ErrUnsupportedAlg},
		{"an ES256 header is refused", forge(hdr(func(m map[string]any) { m["alg"] = "ES256" }), claims(nil), edSigner(priv)), verifier.ErrUnsupportedAlg},
		{"RFC 9864's Ed25519 alg name is not what authledger signs", forge(hdr(func(m map[string]any) { m["alg"] = "Ed25519" }), claims(nil), edSigner(priv)), verifier.ErrUnsupportedAlg},
		{"an unknown kid fails closed", forge(hdr(func(m map[string]any) { m["kid"] = "not-a-key" }), claims(nil), edSigner(priv)), verifier.ErrUnknownKey},
		{"a missing kid is refused", forge(hdr(func(m map[string]any) { delete(m, "kid") }), claims(nil), edSigner(priv)), verifier.ErrInvalidKID},
		{"a path-traversal kid is refused before any lookup", forge(hdr(func(m map[string]any) { m["kid"] = "../../etc/passwd" }), claims(nil), edSigner(priv)), verifier.ErrInvalidKID},
		{"a URL kid is refused", forge(hdr(func(m map[string]any) { m["kid"] = "https://evil.example/k" }), claims(nil), edSigner(priv)), verifier.ErrInvalidKID},
		{"a very long kid is refused", forge(hdr(func(m map[string]any) { m["kid"] = strings.Repeat("k", 4000) }), claims(nil), edSigner(priv)), verifier.ErrInvalidKID},
		{"a kid with a NUL byte is refused", forge(hdr(func(m map[string]any) { m["kid"] = kid + "\x00" }), claims(nil), edSigner(priv)), verifier.ErrInvalidKID},
		{"a stripped signature is refused", h + "." + p + ".", verifier.ErrBadSignature},
		{"a truncated signature is refused", h + "." + p + "." + sig[:40], verifier.ErrBadSignature},
		{"a signature from another Ed25519 key with the same kid is refused", forge(hdr(nil), claims(nil), edSigner(otherPriv)), verifier.ErrBadSignature},
		{"an attacker JWK embedded in the header is ignored", forge(hdr(func(m map[string]any) {
			m["jwk"] = map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(otherPriv.Public().(ed25519.PublicKey))}
		}), claims(nil), edSigner(otherPriv)), verifier.ErrBadSignature},
		{"a tampered payload is refused", h + "." + tp + "." + sig, verifier.ErrBadSignature},
		{"a flipped signature bit is refused", h + "." + p + "." + flip(sig), verifier.ErrBadSignature},
		{"an expired token is refused", forge(hdr(nil), claims(func(m map[string]any) { m["exp"] = now.Add(-time.Minute).Unix() }), edSigner(priv)), verifier.ErrExpired},
		{"expiry inside the leeway still verifies", forge(hdr(nil), claims(func(m map[string]any) { m["exp"] = now.Add(-10 * time.Second).Unix() }), edSigner(priv)), nil},
		{"a token not yet valid is refused", forge(hdr(nil), claims(func(m map[string]any) { m["nbf"] = now.Add(5 * time.Minute).Unix() }), edSigner(priv)), verifier.ErrNotYetValid},
		{"a token issued in the future is refused", forge(hdr(nil), claims(func(m map[string]any) { m["iat"] = now.Add(5 * time.Minute).Unix(); delete(m, "nbf") }), edSigner(priv)), verifier.ErrIssuedInFuture},
		{"a wrong issuer is refused", forge(hdr(nil), claims(func(m map[string]any) { m["iss"] = "https://evil.example" }), edSigner(priv)), verifier.ErrWrongIssuer},
		{"an issuer with a trailing slash is a different issuer", forge(hdr(nil), claims(func(m map[string]any) { m["iss"] = issuer + "/" }), edSigner(priv)), verifier.ErrWrongIssuer},
		{"a wrong audience is refused", forge(hdr(nil), claims(func(m map[string]any) { m["aud"] = []string{"edge"} }), edSigner(priv)), verifier.ErrWrongAudience},
		{"a missing typ is refused", forge(hdr(func(m map[string]any) { delete(m, "typ") }), claims(nil), edSigner(priv)), verifier.ErrWrongType},
		{"typ JWT (an ID token or another class) is refused", forge(hdr(func(m map[string]any) { m["typ"] = "JWT" }), claims(nil), edSigner(priv)), verifier.ErrWrongType},
		{"typ of a logout or DPoP token is refused", forge(hdr(func(m map[string]any) { m["typ"] = "dpop+jwt" }), claims(nil), edSigner(priv)), verifier.ErrWrongType},
		{"a token without jti is refused", forge(hdr(nil), claims(func(m map[string]any) { delete(m, "jti") }), edSigner(priv)), verifier.ErrMissingClaim},
		{"a token without client_id is refused", forge(hdr(nil), claims(func(m map[string]any) { delete(m, "client_id") }), edSigner(priv)), verifier.ErrMissingClaim},
		{"a token without exp is refused", forge(hdr(nil), claims(func(m map[string]any) { delete(m, "exp") }), edSigner(priv)), verifier.ErrMissingClaim},
		{"an oversized token is refused before parsing", forge(hdr(nil), claims(func(m map[string]any) { m["pad"] = strings.Repeat("x", 9000) }), edSigner(priv)), verifier.ErrTokenTooLarge},
		{"two dots only is malformed", "a.b", verifier.ErrMalformed},
		{"a non-base64 header is malformed", "!!!.e30." + sig, verifier.ErrMalformed},
		{"an empty token is no token", "", verifier.ErrNoToken},
	}
	v := s.local()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tt.raw)
			if tt.want == nil && err != nil {
				t.Fatalf("err = %v, want success", err)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func flip(sig string) string {
	b := []byte(sig)
	if b[10] == 'A' {
		b[10] = 'B'
	} else {
		b[10] = 'A'
	}
	return string(b)
}

type revokedJTIs map[string]bool

func (r revokedJTIs) IsRevoked(jti, sid, family string) bool { return r[jti] || r["sid:"+sid] }

// recordingHook is a revocation hook that records every jti it is asked
// about.
type recordingHook struct {
	revoked revokedJTIs
	mu      sync.Mutex
	asked   []string
}

func (h *recordingHook) IsRevoked(jti, sid, family string) bool {
	h.mu.Lock()
	h.asked = append(h.asked, jti)
	h.mu.Unlock()
	return h.revoked.IsRevoked(jti, sid, family)
}

func (h *recordingHook) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.asked
	h.asked = nil
	return out
}

// TestRevocationHookRunsLast: the hook is consulted only for a token that
// passed every other check (signature, typ, iss, aud, time, claims), so an
// unauthenticated or misdirected token never reaches the revocation set,
// and it is consulted for every token that did.
func TestRevocationHookRunsLast(t *testing.T) {
	s := newStack(t)
	iss := s.sign()
	hook := &recordingHook{revoked: revokedJTIs{iss.JTI: true}}
	v := s.local(func(c *verifier.Config) { c.Revocation = hook })

	kid, priv := s.activePriv()
	_, otherPriv, _ := ed25519.GenerateKey(nil)
	now := s.clock.Now()
	// Every token below carries a revoked jti, so a hook consulted too
	// early would turn its precise error into ErrRevoked as well.
	claims := func(change func(m map[string]any)) map[string]any {
		m := map[string]any{"iss": issuer, "sub": "svc-1", "aud": []string{"api"}, "exp": now.Add(5 * time.Minute).Unix(),
			"iat": now.Unix(), "jti": iss.JTI, "client_id": "svc-1", "scope": "read"}
		if change != nil {
			change(m)
		}
		return m
	}
	hdr := func(change func(m map[string]any)) map[string]any {
		m := map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": kid}
		if change != nil {
			change(m)
		}
		return m
	}
	failEarlier := []struct {
		name string
		raw  string
		want error
	}{
		{"a signature from another key", forge(hdr(nil), claims(nil), edSigner(otherPriv)), verifier.ErrBadSignature},
		{"alg none", forge(hdr(func(m map[string]any) { m["alg"] = "none" }), claims(nil), nil), verifier.ErrUnsupportedAlg},
		{"an unknown kid", forge(hdr(func(m map[string]any) { m["kid"] = "not-a-key" }), claims(nil), edSigner(priv)), verifier.ErrUnknownKey},
		{"typ JWT", forge(hdr(func(m map[string]any) { m["typ"] = "JWT" }), claims(nil), edSigner(priv)), verifier.ErrWrongType},
		{"a wrong issuer", forge(hdr(nil), claims(func(m map[string]any) { m["iss"] = "https://evil.example" }), edSigner(priv)), verifier.ErrWrongIssuer},
		{"a wrong audience", forge(hdr(nil), claims(func(m map[string]any) { m["aud"] = []string{"edge"} }), edSigner(priv)), verifier.ErrWrongAudience},
		{"an expired token", forge(hdr(nil), claims(func(m map[string]any) { m["exp"] = now.Add(-time.Minute).Unix() }), edSigner(priv)), verifier.ErrExpired},
		{"a token not yet valid", forge(hdr(nil), claims(func(m map[string]any) { m["nbf"] = now.Add(5 * time.Minute).Unix() }), edSigner(priv)), verifier.ErrNotYetValid},
		{"a token without client_id", forge(hdr(nil), claims(func(m map[string]any) { delete(m, "client_id") }), edSigner(priv)), verifier.ErrMissingClaim},
	}
	for _, tt := range failEarlier {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tt.raw)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if asked := hook.take(); len(asked) != 0 {
				t.Fatalf("the revocation hook was consulted for a token failing an earlier check (asked about %v)", asked)
			}
		})
	}

	// The same claims, correctly signed: only revocation refuses it.
	if _, err := v.Verify(context.Background(), forge(hdr(nil), claims(nil), edSigner(priv))); !errors.Is(err, verifier.ErrRevoked) {
		t.Fatalf("a forged-but-valid token with a revoked jti: err = %v, want ErrRevoked", err)
	}
	if asked := hook.take(); len(asked) != 1 || asked[0] != iss.JTI {
		t.Fatalf("hook asked about %v for the valid revoked token, want [%s]", asked, iss.JTI)
	}
	if _, err := v.Verify(context.Background(), iss.Raw); !errors.Is(err, verifier.ErrRevoked) {
		t.Fatalf("err = %v", err)
	}
	if asked := hook.take(); len(asked) != 1 || asked[0] != iss.JTI {
		t.Fatalf("hook asked about %v for the issued revoked token, want [%s]", asked, iss.JTI)
	}
	other := s.sign()
	if _, err := v.Verify(context.Background(), other.Raw); err != nil {
		t.Fatalf("an unrevoked token failed: %v", err)
	}
	if asked := hook.take(); len(asked) != 1 || asked[0] != other.JTI {
		t.Fatalf("hook asked about %v for a valid token, want [%s]: a valid token must reach the hook", asked, other.JTI)
	}
}

func TestTokenFromARevokedKey(t *testing.T) {
	s := newStack(t)
	iss := s.sign()
	rv, remote := s.remote(s.srv.URL + "/.well-known/jwks.json")
	if _, err := rv.Verify(context.Background(), iss.Raw); err != nil {
		t.Fatal(err)
	}
	if _, err := s.keys.Revoke(context.Background(), commands.RevokeKey{KID: iss.KeyID, Reason: "test"}, commands.Metadata{}); err != nil {
		t.Fatal(err)
	}
	s.sync()
	t.Run("the in-process verifier fails at once with ErrKeyRevoked", func(t *testing.T) {
		if _, err := s.local().Verify(context.Background(), iss.Raw); !errors.Is(err, verifier.ErrKeyRevoked) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("the key is gone from the served JWKS", func(t *testing.T) {
		body, _, _ := s.model.JWKS()
		if strings.Contains(string(body), iss.KeyID) {
			t.Fatal("revoked kid still published")
		}
	})
	t.Run("a remote verifier fails closed once its cache refreshes", func(t *testing.T) {
		s.clock.Add(s.keys.Policy().JWKSMaxAge + time.Second)
		if err := remote.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := rv.Verify(context.Background(), iss.Raw); !errors.Is(err, verifier.ErrUnknownKey) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("signing continues with the replacement key", func(t *testing.T) {
		again := s.sign()
		if again.KeyID == iss.KeyID {
			t.Fatal("still signing with the revoked key")
		}
		if _, err := s.local().Verify(context.Background(), again.Raw); err != nil {
			t.Fatal(err)
		}
	})
}

func TestHostileJWKS(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	x := b64(pub)
	tests := []struct {
		name string
		doc  string
		want error
	}{
		{"duplicate kids reject the whole set", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"a"},{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"a"}]}`, verifier.ErrDuplicateKID},
		{"a private key in a public set is refused", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","d":"` + x + `","kid":"a"}]}`, verifier.ErrInvalidJWKS},
		{"a short x is refused", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA","kid":"a"}]}`, verifier.ErrInvalidJWKS},
		{"a kid-less Ed25519 key is refused", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `"}]}`, verifier.ErrInvalidJWKS},
		{"a document without keys is refused", `{}`, verifier.ErrInvalidJWKS},
		{"an RSA key beside an Ed25519 key is skipped", `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"r"},{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"a"}]}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verifier.ParseJWKS([]byte(tt.doc))
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestUnreachableJWKSEndpoint(t *testing.T) {
	s := newStack(t)
	iss := s.sign()
	var down atomic.Bool
	var hits atomic.Int64
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		s.srv.Config.Handler.ServeHTTP(w, r)
	}))
	defer front.Close()
	v, remote := s.remote(front.URL + "/.well-known/jwks.json")
	if _, err := v.Verify(context.Background(), iss.Raw); err != nil {
		t.Fatal(err)
	}
	down.Store(true)
	s.clock.Add(time.Hour) // the cached set is long stale
	later := s.sign()
	t.Run("cached keys keep working while the endpoint is down", func(t *testing.T) {
		if _, err := v.Verify(context.Background(), later.Raw); err != nil {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("an unknown kid fails closed with ErrUnknownKey", func(t *testing.T) {
		_, priv := s.activePriv()
		forged := forge(map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": "fresh-kid"}, decodePayload(t, later.Raw), edSigner(priv))
		_, err := v.Verify(context.Background(), forged)
		if !errors.Is(err, verifier.ErrUnknownKey) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unknown kids do not turn into a flood of fetches", func(t *testing.T) {
		before := remote.Fetches()
		_, priv := s.activePriv()
		for i := range 50 {
			forged := forge(map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": "k" + string(rune('a'+i%26))}, decodePayload(t, later.Raw), edSigner(priv))
			_, _ = v.Verify(context.Background(), forged)
		}
		if got := remote.Fetches() - before; got > 2 {
			t.Fatalf("%d fetches for 50 unknown kids", got)
		}
	})
}
