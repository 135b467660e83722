package commands_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/domain/session"
)

// jwtClaims reads an access token's payload (its signature is the
// signer's tests' concern).
func jwtClaims(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTokensRefreshedAfterAStepUpCarryTheNewAuthTimeAndACR(t *testing.T) {
	t.Parallel()
	f := newTokenFixture(t, nil)
	ctx := context.Background()
	s := f.start(t, "svc-login", "alice")
	before := jwtClaims(t, s.AccessToken)
	// A first refresh warms the family cache, so the next refresh signs its
	// access token early from the cached family.
	pair, err := f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "svc-login"}, commands.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(10 * time.Minute)
	if _, err := f.tok.Elevate.Handle(ctx, commands.ElevateSession{SessionID: s.SessionID, ClientID: "svc-login", ACR: "urn:test:uv", AMR: []string{"hwk", "user"}}, commands.Metadata{}); err != nil {
		t.Fatal(err)
	}
	after, err := f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: pair.RefreshToken, ClientID: "svc-login"}, commands.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	got := jwtClaims(t, after.AccessToken)
	if got["acr"] != "urn:test:uv" || got["auth_time"].(float64) <= before["auth_time"].(float64) {
		t.Fatalf("refreshed after the step-up: acr %v auth_time %v (before: %v %v)", got["acr"], got["auth_time"], before["acr"], before["auth_time"])
	}
	// Tokens minted before keep their values.
	if jwtClaims(t, s.AccessToken)["acr"] != "aal1" || jwtClaims(t, pair.AccessToken)["acr"] != "aal1" {
		t.Fatal("a token minted before the step-up changed")
	}
	// The step-up is in the ledger on both streams.
	fam := countTypes(t, f.store, mustFamily(t, f, s.SessionID).Stream())
	if fam[refreshtoken.TypeElevated] != 1 || countTypes(t, f.store, session.Stream(s.SessionID))[session.TypeElevated] != 1 {
		t.Fatalf("family events %v", fam)
	}
}

func mustFamily(t *testing.T, f *tokenFixture, sessionID string) *refreshtoken.Family {
	t.Helper()
	rec, err := f.sessions.Get(context.Background(), sessionID)
	if err != nil {
		t.Fatal(err)
	}
	id, err := refreshtoken.ParseFamilyID(rec.Family)
	if err != nil {
		t.Fatal(err)
	}
	fam, err := f.tok.Families.Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return fam
}
