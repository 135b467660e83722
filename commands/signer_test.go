package commands_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/authledger/authledger/client/verifier"
	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/token"
	"github.com/authledger/authledger/eventstore/audit"
	"github.com/authledger/authledger/readmodels/jwks"
)

func newSigner(t *testing.T, f *fixture) (*commands.JWTSigner, *jwks.Model) { return newSignerTB(t, f) }

func newSignerTB(t testing.TB, f *fixture) (*commands.JWTSigner, *jwks.Model) {
	t.Helper()
	m := jwks.New()
	s, err := commands.NewJWTSigner(commands.JWTSignerConfig{Issuer: "https://auth.test", Store: f.store, Secrets: f.secrets, Keys: m, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s, m
}

func userClaims() token.Claims {
	return token.Claims{Class: token.Access, Subject: "user-1", ClientID: "web-app", Audience: []string{"api", "https://auth.test"},
		Scope: []string{"profile", "orders:read"}, SessionID: "sess-1", FamilyID: "fam-1", AuthTime: time.Date(2026, 3, 1, 11, 59, 0, 0, time.UTC),
		ACR: "aal2", AMR: []string{"hwk", "user"}}
}

func TestSigner(t *testing.T) {
	ctx := context.Background()
	t.Run("with no active key signing fails closed", func(t *testing.T) {
		f := newFixture(t)
		s, _ := newSigner(t, f)
		if _, err := s.Sign(ctx, userClaims(), commands.Metadata{}); !errors.Is(err, commands.ErrNoActiveKey) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a user token is an RFC 9068 JWT another library verifies against the JWKS", func(t *testing.T) {
		f := newFixture(t)
		s, m := newSigner(t, f)
		_, _ = f.keys.Tick(ctx, commands.Metadata{})
		if err := m.Reload(ctx, f.store); err != nil {
			t.Fatal(err)
		}
		iss, err := s.Sign(ctx, userClaims(), commands.Metadata{RequestID: "r1"})
		if err != nil {
			t.Fatal(err)
		}
		body, _, _ := m.JWKS()
		set, err := jwk.Parse(body)
		if err != nil {
			t.Fatal(err)
		}
		payload, err := jws.Verify([]byte(iss.Raw), jws.WithKeySet(set))
		if err != nil {
			t.Fatalf("jwx refuses the token: %v", err)
		}
		hb, _ := base64.RawURLEncoding.DecodeString(strings.Split(iss.Raw, ".")[0])
		var hdr map[string]any
		_ = json.Unmarshal(hb, &hdr)
		if hdr["typ"] != "at+jwt" || hdr["alg"] != "EdDSA" || hdr["kid"] != iss.KeyID {
			t.Fatalf("header = %v", hdr)
		}
		var c map[string]any
		_ = json.Unmarshal(payload, &c)
		exp := f.clock.Now().Add(10 * time.Minute).Unix()
		if c["iss"] != "https://auth.test" || c["sub"] != "user-1" || c["client_id"] != "web-app" || c["scope"] != "profile orders:read" ||
			c["sid"] != "sess-1" || c["acr"] != "aal2" || c["jti"] != iss.JTI || int64(c["exp"].(float64)) != exp ||
			c["iat"] != c["nbf"] || c["auth_time"] == nil || len(c["amr"].([]any)) != 2 || len(c["aud"].([]any)) != 2 {
			t.Fatalf("claims = %v", c)
		}
		if !iss.ExpiresAt.Equal(time.Unix(exp, 0)) {
			t.Fatalf("ExpiresAt = %v", iss.ExpiresAt)
		}
	})
	t.Run("every issuance is a ledger event that never holds the token", func(t *testing.T) {
		f := newFixture(t)
		s, m := newSigner(t, f)
		_, _ = f.keys.Tick(ctx, commands.Metadata{})
		_ = m.Reload(ctx, f.store)
		iss, err := s.Sign(ctx, userClaims(), commands.Metadata{RequestID: "r1"})
		if err != nil {
			t.Fatal(err)
		}
		recs, _ := f.store.ReadStream(ctx, token.Stream(iss.JTI))
		if len(recs) != 1 || recs[0].Type != token.TypeIssued {
			t.Fatalf("records = %+v", recs)
		}
		var ev token.IssuedEvent
		_ = json.Unmarshal(recs[0].Data, &ev)
		if ev.JTI != iss.JTI || ev.KeyID != iss.KeyID || ev.FamilyID != "fam-1" || ev.SessionID != "sess-1" || ev.Class != token.Access ||
			ev.Scope != "profile orders:read" || !ev.ExpiresAt.Equal(iss.ExpiresAt) {
			t.Fatalf("event = %+v", ev)
		}
		sig := strings.Split(iss.Raw, ".")[2]
		if strings.Contains(string(recs[0].Data), sig) || strings.Contains(string(recs[0].Metadata), sig) {
			t.Fatal("the token is in the ledger")
		}
		if !strings.Contains(string(recs[0].Metadata), `"request_id":"r1"`) {
			t.Fatalf("metadata = %s", recs[0].Metadata)
		}
	})
	t.Run("lifetimes are bounded by the token policy", func(t *testing.T) {
		f := newFixture(t)
		s, m := newSigner(t, f)
		_, _ = f.keys.Tick(ctx, commands.Metadata{})
		_ = m.Reload(ctx, f.store)
		c := userClaims()
		c.Lifetime = time.Hour
		if _, err := s.Sign(ctx, c, commands.Metadata{}); !errors.Is(err, token.ErrLifetimeTooLong) {
			t.Fatalf("err = %v", err)
		}
		c.Lifetime = 2 * time.Minute
		iss, err := s.Sign(ctx, c, commands.Metadata{})
		if err != nil || iss.ExpiresAt.Sub(iss.IssuedAt) != 2*time.Minute {
			t.Fatalf("issued %v, %v", iss, err)
		}
	})
	t.Run("claims that cannot make a valid token are refused", func(t *testing.T) {
		f := newFixture(t)
		s, _ := newSigner(t, f)
		for name, mut := range map[string]func(*token.Claims){
			"refresh class":       func(c *token.Claims) { c.Class = token.Refresh },
			"no subject":          func(c *token.Claims) { c.Subject = "" },
			"no audience":         func(c *token.Claims) { c.Audience = nil },
			"a scope with spaces": func(c *token.Claims) { c.Scope = []string{"a b"} },
		} {
			c := userClaims()
			mut(&c)
			if _, err := s.Sign(ctx, c, commands.Metadata{}); !errors.Is(err, commands.ErrInvalidClaims) {
				t.Fatalf("%s: err = %v", name, err)
			}
		}
	})
	t.Run("a provider key that does not match the published JWK is refused", func(t *testing.T) {
		f := newFixture(t)
		s, m := newSigner(t, f)
		_, _ = f.keys.Tick(ctx, commands.Metadata{})
		_ = m.Reload(ctx, f.store)
		a, _ := m.ActiveKey()
		// Overwrite: the published version now holds someone else's seed.
		_ = f.secrets.Delete(ctx, a.Secret.Name)
		if _, err := f.secrets.Put(ctx, a.Secret.Name, make([]byte, 32)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Sign(ctx, userClaims(), commands.Metadata{}); !errors.Is(err, commands.ErrKeyMismatch) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestCheckpointIsAcceptedByTheAuditVerifier(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	s, m := newSigner(t, f)
	_, _ = f.keys.Tick(ctx, commands.Metadata{})
	_ = m.Reload(ctx, f.store)
	head, _ := f.store.Head(ctx)
	raw, err := s.SignCheckpoint(ctx, head)
	if err != nil {
		t.Fatal(err)
	}
	body, _, _ := m.JWKS()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	cp, err := audit.ParseCheckpoint([]byte(raw), set)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := m.ActiveKey()
	if cp.Position != head.Position || cp.Hash != head.Hash || cp.KeyID != a.KID || !cp.IssuedAt.Equal(f.clock.Now().Truncate(time.Second)) {
		t.Fatalf("checkpoint = %+v, head = %+v", cp, head)
	}
	// A checkpoint is not an access token.
	v, _ := verifier.New(verifier.Config{Issuer: "https://auth.test", AnyAudience: true, Keys: m, Now: f.clock.Now})
	if _, err := v.Verify(ctx, raw); !errors.Is(err, verifier.ErrWrongType) {
		t.Fatalf("a checkpoint verified as a token: %v", err)
	}
}
