package commands_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/domain/oauth"
	"github.com/authledger/authledger/replayguard"
)

// TestAssertionAudienceIsTheIssuerAsASingleString is RFC 7523bis's answer
// to audience injection: aud must be the issuer identifier, one string.
// An array (even of the issuer alone) or the token endpoint URL is
// refused, the URL unless the compatibility switch names it.
func TestAssertionAudienceIsTheIssuerAsASingleString(t *testing.T) {
	t.Parallel()
	const issuer, endpoint = "https://as.test", "https://as.test/oauth2/token"
	ctx := context.Background()
	s, reg, store := svcFixture(t)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	k := client.PublicKey{KTY: "OKP", CRV: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub)}
	k.KeyID = k.Thumbprint()
	res, err := s.Register(ctx, commands.RegisterService{Name: "k", Keys: []client.PublicKey{k}, NoSecret: true}, commands.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	catchUp(t, reg, store)
	id := string(res.Client.ID)
	strict, err := commands.NewClientAuthenticator(commands.ClientAuthConfig{Directory: reg, Pepper: testPepper, Replay: replayguard.NewMemory(nil), Issuer: issuer})
	if err != nil {
		t.Fatal(err)
	}
	compat, err := commands.NewClientAuthenticator(commands.ClientAuthConfig{Directory: reg, Pepper: testPepper, Replay: replayguard.NewMemory(nil), Issuer: issuer, TokenEndpointAudience: endpoint})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	withAud := func(aud any) string {
		n++
		claims := map[string]any{"iss": id, "sub": id, "exp": time.Now().Add(time.Minute).Unix(), "jti": string(rune('a'+n)) + "-jti"}
		if aud != nil {
			claims["aud"] = aud
		}
		sg, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: priv}, (&jose.SignerOptions{}).WithHeader("kid", k.KeyID))
		if err != nil {
			t.Fatal(err)
		}
		payload, _ := json.Marshal(claims)
		jws, err := sg.Sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := jws.CompactSerialize()
		return raw
	}
	cases := []struct {
		name             string
		aud              any
		strictOK, compOK bool
	}{
		{"the issuer as a string is accepted", issuer, true, true},
		{"the issuer alone in an array is refused", []string{issuer}, false, false},
		{"an array holding the issuer among others is refused", []string{"https://other.test", issuer}, false, false},
		{"the token endpoint URL is refused unless switched on", endpoint, false, true},
		{"the token endpoint URL in an array is refused even switched on", []string{endpoint}, false, false},
		{"an issuer differing by a trailing slash is refused", issuer + "/", false, false},
		{"an issuer differing in case is refused", "https://AS.test", false, false},
		{"no aud is refused", nil, false, false},
		{"an empty aud is refused", "", false, false},
		{"a number is refused", 42, false, false},
		{"an object is refused", map[string]string{"aud": issuer}, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, a := range []struct {
				name string
				auth *commands.ClientAuthenticator
				ok   bool
			}{{"strict", strict, tc.strictOK}, {"compatibility switch on", compat, tc.compOK}} {
				got, err := a.auth.Authenticate(ctx, commands.ClientCredentials{Method: commands.AuthPrivateKeyJWT, Assertion: withAud(tc.aud)})
				if a.ok {
					if err != nil || got.ID != res.Client.ID {
						t.Fatalf("%s: refused: %v", a.name, err)
					}
					continue
				}
				if !errors.Is(err, oauth.ErrInvalidClient) {
					t.Fatalf("%s: err = %v, want invalid_client", a.name, err)
				}
			}
		})
	}
	t.Run("an authenticator without an issuer is refused", func(t *testing.T) {
		if _, err := commands.NewClientAuthenticator(commands.ClientAuthConfig{Directory: reg, Pepper: testPepper, Replay: replayguard.NewMemory(nil)}); err == nil {
			t.Fatal("built without Issuer")
		}
	})
}
