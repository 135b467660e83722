package commands_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/secrets"
	"github.com/authledger/authledger/secrets/local"
)

func codecWith(t *testing.T, active string, kids ...string) *refreshtoken.Codec {
	t.Helper()
	keys := map[string][]byte{}
	for i, kid := range kids {
		k := make([]byte, refreshtoken.KeyBytes)
		k[0] = byte(i + 1)
		keys[kid] = k
	}
	c, err := refreshtoken.NewCodec(active, keys)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A refresh token sealed with a key the ledger used but this instance
// lacks is a server fault naming the key, never "malformed": a client told
// invalid_grant throws a valid token away.
func TestASealingKeyTheLedgerUsedButThisInstanceLacksIsAServerFault(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	issuer := codecWith(t, "v2", "v1", "v2")
	raw, err := issuer.Seal(refreshtoken.Claims{Family: refreshtoken.FamilyID{1}, Generation: 1, Token: refreshtoken.TokenID{2}, ExpiresAt: time.Now().Add(time.Hour).Truncate(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	reloads := 0
	lacking := commands.NewRefreshSealer(codecWith(t, "v1", "v1"), func(context.Context) (*refreshtoken.Codec, error) {
		reloads++
		return codecWith(t, "v1", "v1"), nil
	})
	ledgerUsed := map[string]bool{"v1": true, "v2": true}
	lacking.KnowLedgerKeys(func(kid string) bool { return ledgerUsed[kid] })

	_, err = lacking.Open(ctx, raw)
	var missing *commands.SealingKeyMissingError
	if !errors.As(err, &missing) || missing.KeyID != "v2" || !errors.Is(err, secrets.ErrUnavailable) || !strings.Contains(err.Error(), `"v2"`) {
		t.Fatalf("Open = %v, want a SealingKeyMissingError for v2 matching secrets.ErrUnavailable", err)
	}
	if reloads != 1 {
		t.Errorf("the provider was read %d times, want once before deciding", reloads)
	}
	if m := lacking.MissingKeys(ctx, []string{"v1", "v2"}); len(m) != 1 || m[0] != "v2" {
		t.Errorf("MissingKeys = %v, want [v2]", m)
	}

	// The same prefix on a token the ledger never sealed is a forgery.
	delete(ledgerUsed, "v2")
	if _, err := lacking.Open(ctx, raw); !errors.Is(err, refreshtoken.ErrMalformed) {
		t.Fatalf("Open of a token naming a key the ledger never used = %v, want ErrMalformed", err)
	}
}

// Two providers that each generated their own first sealing key give them
// different key ids, so a token from one is a missing key on the other,
// not a forgery.
func TestAnotherProvidersFirstSealingKeyIsAMissingKeyNotAForgery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	open := func() *refreshtoken.Codec {
		sp, err := local.Open(t.TempDir(), local.Options{MasterKey: make([]byte, 32)})
		if err != nil {
			t.Fatal(err)
		}
		c, err := commands.LoadRefreshCodec(ctx, sp, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := open(), open()
	if a.ActiveKeyID() == b.ActiveKeyID() {
		t.Fatalf("two providers' first keys share the key id %s", a.ActiveKeyID())
	}
	raw, err := a.Seal(refreshtoken.Claims{Family: refreshtoken.FamilyID{1}, Generation: 1, Token: refreshtoken.TokenID{2}, ExpiresAt: time.Now().Add(time.Hour).Truncate(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	s := commands.NewRefreshSealer(b, nil)
	s.KnowLedgerKeys(func(kid string) bool { return kid == a.ActiveKeyID() })
	if _, err := s.Open(ctx, raw); !errors.Is(err, commands.ErrSealingKeyMissing) {
		t.Fatalf("Open = %v, want ErrSealingKeyMissing", err)
	}
}
