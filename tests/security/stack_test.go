package security_test

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/client/verifier"
	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/token"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/readmodels/jwks"
	"github.com/authledger/authledger/secrets/local"
)

const issuer = "https://auth.test"

// clock is the injected clock every part of the stack reads.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// stack is one authledger instance: ledger, secrets, key commands, JWKS
// read model (fed synchronously by sync), signer, and the JWKS endpoint.
type stack struct {
	t      *testing.T
	clock  *clock
	store  *memstore.Store
	keys   *commands.Keys
	model  *jwks.Model
	signer *commands.JWTSigner
	srv    *httptest.Server
	sp     *local.Provider
}

func newStack(t *testing.T) *stack {
	t.Helper()
	c := &clock{now: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}
	store := memstore.New(c.Now)
	sp, err := local.Open(t.TempDir(), local.Options{MasterKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := commands.NewKeys(commands.KeysConfig{Store: store, Secrets: sp, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	model := jwks.New()
	signer, err := commands.NewJWTSigner(commands.JWTSignerConfig{Issuer: issuer, Store: store, Secrets: sp, Keys: model, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	p := keys.Policy()
	srv := httptest.NewServer(api.New(api.Config{}, api.JWKS{Source: model, MaxAge: p.JWKSMaxAge, StaleWhileRevalidate: p.StaleWhileRevalidate}))
	t.Cleanup(srv.Close)
	s := &stack{t: t, clock: c, store: store, keys: keys, model: model, signer: signer, srv: srv, sp: sp}
	s.tick()
	return s
}

// sync folds the ledger into the read model, as the feed would.
func (s *stack) sync() {
	s.t.Helper()
	if err := s.model.Reload(context.Background(), s.store); err != nil {
		s.t.Fatal(err)
	}
}

func (s *stack) tick() commands.TickResult {
	s.t.Helper()
	res, err := s.keys.Tick(context.Background(), commands.Metadata{Actor: "test"})
	if err != nil {
		s.t.Fatal(err)
	}
	s.sync()
	return res
}

func (s *stack) sign(aud ...string) token.Issued {
	s.t.Helper()
	if len(aud) == 0 {
		aud = []string{"api"}
	}
	iss, err := s.signer.Sign(context.Background(), token.Claims{Class: token.M2M, Subject: "svc-1", ClientID: "svc-1", Audience: aud, Scope: []string{"read", "write"}}, commands.Metadata{})
	if err != nil {
		s.t.Fatal(err)
	}
	return iss
}

// local is a verifier on the in-process read model.
func (s *stack) local(mut ...func(*verifier.Config)) *verifier.Verifier {
	s.t.Helper()
	return newVerifier(s.t, s.model, s.clock, mut...)
}

// remote is a verifier fetching the JWKS over HTTP.
func (s *stack) remote(url string) (*verifier.Verifier, *verifier.Remote) {
	s.t.Helper()
	r, err := verifier.NewRemote(verifier.RemoteConfig{URL: url, Now: s.clock.Now})
	if err != nil {
		s.t.Fatal(err)
	}
	return newVerifier(s.t, r, s.clock), r
}

func newVerifier(t *testing.T, keys verifier.KeySource, c *clock, mut ...func(*verifier.Config)) *verifier.Verifier {
	t.Helper()
	cfg := verifier.Config{Issuer: issuer, Audiences: []string{"api"}, Keys: keys, Leeway: 30 * time.Second, Now: c.Now}
	for _, m := range mut {
		m(&cfg)
	}
	v, err := verifier.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// forge builds a compact JWS from raw header and payload maps, signed by
// sign over the signing input (nil sign leaves the signature empty).
func forge(header, payload map[string]any, sign func(input []byte) []byte) string {
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(payload)
	input := b64(h) + "." + b64(p)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + b64(sig)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func edSigner(priv ed25519.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte { return ed25519.Sign(priv, in) }
}

func hmacSigner(key []byte) func([]byte) []byte {
	return func(in []byte) []byte { m := hmac.New(sha256.New, key); m.Write(in); return m.Sum(nil) }
}

// parts splits a compact token for tampering.
func parts(raw string) (h, p, s string) {
	x := strings.Split(raw, ".")
	return x[0], x[1], x[2]
}

func decodePayload(t *testing.T, raw string) map[string]any {
	t.Helper()
	_, p, _ := parts(raw)
	b, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// activePriv is the active key's private half, from the provider, so tests
// can sign arbitrary claims with a key the JWKS trusts.
func (s *stack) activePriv() (string, ed25519.PrivateKey) {
	s.t.Helper()
	k, ok := s.model.ActiveKey()
	if !ok {
		s.t.Fatal("no active key")
	}
	sec, err := s.sp.GetVersion(context.Background(), k.Secret.Name, k.Secret.Version)
	if err != nil {
		s.t.Fatal(err)
	}
	return k.KID, ed25519.NewKeyFromSeed(sec.Value.Bytes())
}
