package commands_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/domain/oauth"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/readmodels/services"
	"github.com/authledger/authledger/replayguard"
)

func svcFixture(t testing.TB) (*commands.Services, *services.Registry, *memstore.Store) {
	t.Helper()
	store := memstore.New(nil)
	s, err := commands.NewServices(commands.ServicesConfig{Store: store, Pepper: testPepper})
	if err != nil {
		t.Fatal(err)
	}
	return s, services.New(), store
}

func catchUp(t testing.TB, reg *services.Registry, store *memstore.Store) {
	t.Helper()
	if err := reg.CatchUp(context.Background(), store); err != nil {
		t.Fatal(err)
	}
}

func TestServiceCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, reg, store := svcFixture(t)
	res, err := s.Register(ctx, commands.RegisterService{Name: "a", Scopes: []string{"read"}}, commands.Metadata{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(res.Client.ID), "svc-") || len(res.ClientSecret) != 43 {
		t.Fatalf("id %q secret length %d", res.Client.ID, len(res.ClientSecret))
	}
	recs, _ := store.ReadAll(ctx, 0, 100)
	for _, r := range recs {
		if strings.Contains(string(r.Data), res.ClientSecret) || strings.Contains(string(r.Metadata), res.ClientSecret) {
			t.Fatal("the ledger holds the secret")
		}
	}
	if _, err := s.Register(ctx, commands.RegisterService{Name: "b", NoSecret: true}, commands.Metadata{}); !errors.Is(err, client.ErrNoCredential) {
		t.Fatalf("no credential: %v", err)
	}
	if _, err := s.Disable(ctx, commands.DisableService{ClientID: "svc-missing"}, commands.Metadata{}); !errors.Is(err, client.ErrNotRegistered) {
		t.Fatalf("unknown: %v", err)
	}
	if _, err := s.RotateSecret(ctx, commands.RotateSecret{ClientID: "bad id"}, commands.Metadata{}); !errors.Is(err, client.ErrNotRegistered) {
		t.Fatalf("malformed id: %v", err)
	}
	// Concurrent operators on one client: every change lands, none is lost.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.RotateSecret(ctx, commands.RotateSecret{ClientID: res.Client.ID}, commands.Metadata{}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	catchUp(t, reg, store)
	v, _, _ := reg.Client(ctx, res.Client.ID)
	if len(v.Secrets) != 9 {
		t.Fatalf("%d secrets after 8 concurrent rotations, want 9", len(v.Secrets))
	}
}

func authFixture(t testing.TB) (*commands.ClientAuthenticator, *commands.Services, *services.Registry, *memstore.Store) {
	t.Helper()
	s, reg, store := svcFixture(t)
	a, err := commands.NewClientAuthenticator(commands.ClientAuthConfig{Directory: reg, Pepper: testPepper, Replay: replayguard.NewMemory(nil), Issuer: "https://as.test", TokenEndpointAudience: "https://as.test/oauth2/token"})
	if err != nil {
		t.Fatal(err)
	}
	return a, s, reg, store
}

func signAssertion(t testing.TB, priv ed25519.PrivateKey, kid string, c jwt.Claims) string {
	t.Helper()
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: priv}, (&jose.SignerOptions{}).WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(sg).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestAuthenticateClient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, s, reg, store := authFixture(t)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	k := client.PublicKey{KTY: "OKP", CRV: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub)}
	k.KeyID = k.Thumbprint()
	withSecret, err := s.Register(ctx, commands.RegisterService{Name: "s"}, commands.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	withKey, err := s.Register(ctx, commands.RegisterService{Name: "k", Keys: []client.PublicKey{k}, NoSecret: true}, commands.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	catchUp(t, reg, store)
	sid, kid := string(withSecret.Client.ID), string(withKey.Client.ID)
	now := time.Now()
	claims := func(mut func(*jwt.Claims)) jwt.Claims {
		c := jwt.Claims{Issuer: kid, Subject: kid, Audience: jwt.Audience{"https://as.test/oauth2/token"}, Expiry: jwt.NewNumericDate(now.Add(time.Minute)), ID: base64.RawURLEncoding.EncodeToString([]byte(time.Now().String()))}
		if mut != nil {
			mut(&c)
		}
		return c
	}
	cases := []struct {
		name string
		cred commands.ClientCredentials
		ok   bool
	}{
		{"the right secret authenticates", commands.ClientCredentials{Method: commands.AuthSecretBasic, ClientID: sid, Secret: withSecret.ClientSecret}, true},
		{"a wrong secret fails", commands.ClientCredentials{Method: commands.AuthSecretPost, ClientID: sid, Secret: "x"}, false},
		{"an unknown id fails", commands.ClientCredentials{Method: commands.AuthSecretBasic, ClientID: "svc-x", Secret: withSecret.ClientSecret}, false},
		{"no method fails", commands.ClientCredentials{ClientID: sid}, false},
		{"a good assertion authenticates", commands.ClientCredentials{Method: commands.AuthPrivateKeyJWT, Assertion: signAssertion(t, priv, k.KeyID, claims(nil))}, true},
		{"an assertion without exp fails", commands.ClientCredentials{Method: commands.AuthPrivateKeyJWT, Assertion: signAssertion(t, priv, k.KeyID, claims(func(c *jwt.Claims) { c.Expiry = nil }))}, false},
		{"an assertion without jti fails", commands.ClientCredentials{Method: commands.AuthPrivateKeyJWT, Assertion: signAssertion(t, priv, k.KeyID, claims(func(c *jwt.Claims) { c.ID = "" }))}, false},
		{"an assertion not yet valid fails", commands.ClientCredentials{Method: commands.AuthPrivateKeyJWT, Assertion: signAssertion(t, priv, k.KeyID, claims(func(c *jwt.Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(3 * time.Minute)) }))}, false},
		{"a client_id differing from sub fails", commands.ClientCredentials{Method: commands.AuthPrivateKeyJWT, ClientID: sid, Assertion: signAssertion(t, priv, k.KeyID, claims(nil))}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := a.Authenticate(ctx, tc.cred)
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if got.ID == "" || got.Method != tc.cred.Method {
					t.Fatalf("result %+v", got)
				}
				return
			}
			if !errors.Is(err, oauth.ErrInvalidClient) {
				t.Fatalf("err = %v, want invalid_client", err)
			}
			var oe *oauth.Error
			if errors.As(err, &oe) && oe.Hint != "" {
				t.Fatalf("the client is told why: %q", oe.Hint)
			}
		})
	}
}

func TestCredentialsRedactInLogs(t *testing.T) {
	t.Parallel()
	c := commands.ClientCredentials{Method: commands.AuthSecretBasic, ClientID: "svc-a", Secret: "hunter2", Assertion: "a.b.c"}
	b, _ := json.Marshal(c.LogValue().Resolve().Group())
	if strings.Contains(c.LogValue().String(), "hunter2") || strings.Contains(string(b), "hunter2") {
		t.Fatal("secret in log value")
	}
}

func FuzzAuthenticateAssertion(f *testing.F) {
	a, s, reg, store := authFixture(f)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	k := client.PublicKey{KTY: "OKP", CRV: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub)}
	k.KeyID = k.Thumbprint()
	res, err := s.Register(context.Background(), commands.RegisterService{Name: "k", Keys: []client.PublicKey{k}, NoSecret: true}, commands.Metadata{})
	if err != nil {
		f.Fatal(err)
	}
	catchUp(f, reg, store)
	id := string(res.Client.ID)
	f.Add(signAssertion(f, priv, k.KeyID, jwt.Claims{Issuer: id, Subject: id, Audience: jwt.Audience{"https://as.test/oauth2/token"}, Expiry: jwt.NewNumericDate(time.Now().Add(time.Minute)), ID: "j1"}))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := a.Authenticate(context.Background(), commands.ClientCredentials{Method: commands.AuthPrivateKeyJWT, Assertion: raw})
		if err == nil && got.ID != client.ID(id) {
			t.Fatalf("authenticated as %q", got.ID)
		}
	})
}
