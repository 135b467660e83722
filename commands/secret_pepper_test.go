package commands_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/domain/oauth"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/audit"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/readmodels/services"
	"github.com/authledger/authledger/secrets/local"
)

var testPepper = func() client.Pepper {
	p, err := client.NewPepper([]byte("the commands tests' pepper, 32 bytes or more"))
	if err != nil {
		panic(err)
	}
	return p
}()

func TestANewRegistrationsLedgerEventsHoldNoPlainSHA256OfTheSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, store := svcFixture(t)
	res, err := s.Register(ctx, commands.RegisterService{Name: "a"}, commands.Metadata{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	rot, err := s.RotateSecret(ctx, commands.RotateSecret{ClientID: res.Client.ID}, commands.Metadata{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	recs, _ := store.ReadAll(ctx, 0, 100)
	hashes := 0
	for _, r := range recs {
		for _, sec := range []string{res.ClientSecret, rot.ClientSecret} {
			sum := sha256.Sum256([]byte(sec))
			if containsB64(r.Data, sum[:]) || strings.Contains(string(r.Data), hex.EncodeToString(sum[:])) {
				t.Fatalf("event %d (%s) holds the plain SHA-256 of a secret: %s", r.Position, r.Type, r.Data)
			}
		}
		var d struct{ Hash string }
		if json.Unmarshal(r.Data, &d) == nil && d.Hash != "" {
			hashes++
			if !strings.HasPrefix(d.Hash, "v2:") {
				t.Fatalf("event %d stores hash %q, want the v2 scheme", r.Position, d.Hash)
			}
		}
	}
	if hashes != 2 {
		t.Fatalf("%d secret hashes in the ledger, want 2", hashes)
	}
}

func TestServicesAndClientAuthNeedAPepper(t *testing.T) {
	t.Parallel()
	store, reg := memstore.New(nil), services.New()
	if _, err := commands.NewServices(commands.ServicesConfig{Store: store}); err == nil || !strings.Contains(err.Error(), "Pepper") {
		t.Fatalf("NewServices without a pepper: %v", err)
	}
	if _, err := commands.NewClientAuthenticator(commands.ClientAuthConfig{Directory: reg, Replay: nil, Issuer: "https://as.test"}); err == nil || !strings.Contains(err.Error(), "Pepper") {
		t.Fatalf("NewClientAuthenticator without a pepper: %v", err)
	}
}

// A client registered before v2 has a plain SHA-256 in its (append-only)
// stream. It keeps authenticating; a rotation moves it to v2; audit verify
// stays green throughout, since nothing is rewritten.
func TestAnOldSchemeClientStillAuthenticatesUntilItsSecretIsRotated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, s, reg, store := authFixture(t)
	const oldSecret = "an old client's secret, registered before v2"
	data := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	at := time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Second)
	if _, err := store.Append(ctx, eventstore.StreamAppend{Stream: client.Stream("svc-old"), Expected: eventstore.NoStream(), Events: []eventstore.Event{
		{Type: client.TypeRegistered, Data: data(client.Registered{Client: "svc-old", Name: "old", Scopes: []string{}, Audiences: []string{}, At: at})},
		{Type: client.TypeSecretAdded, Data: json.RawMessage(`{"secret_id":"sec-old","hash":"` + client.HashSecretV1(oldSecret) + `","at":"` + at.Format(time.RFC3339) + `"}`)},
	}}); err != nil {
		t.Fatal(err)
	}
	v2, err := s.Register(ctx, commands.RegisterService{Name: "new"}, commands.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	catchUp(t, reg, store)
	auth := func(id, secret string) error {
		_, err := a.Authenticate(ctx, commands.ClientCredentials{Method: commands.AuthSecretBasic, ClientID: id, Secret: secret})
		return err
	}
	if err := auth("svc-old", oldSecret); err != nil {
		t.Fatalf("the v1 client: %v", err)
	}
	if err := auth(string(v2.Client.ID), v2.ClientSecret); err != nil {
		t.Fatalf("the v2 client: %v", err)
	}
	for _, tc := range []struct{ id, secret string }{
		{"svc-old", oldSecret + "x"},
		{"svc-old", client.HashSecretV1(oldSecret)},
		{string(v2.Client.ID), flipLast(v2.ClientSecret)},
		{string(v2.Client.ID), testPepper.Hash(v2.ClientSecret)},
		{string(v2.Client.ID), oldSecret},
	} {
		if err := auth(tc.id, tc.secret); !errors.Is(err, oauth.ErrInvalidClient) {
			t.Fatalf("%s with a wrong secret: %v", tc.id, err)
		}
	}

	rot, err := s.RotateSecret(ctx, commands.RotateSecret{ClientID: "svc-old", Immediately: true}, commands.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	catchUp(t, reg, store)
	if err := auth("svc-old", rot.ClientSecret); err != nil {
		t.Fatalf("after rotation, the new secret: %v", err)
	}
	if err := auth("svc-old", oldSecret); !errors.Is(err, oauth.ErrInvalidClient) {
		t.Fatalf("after an immediate rotation, the v1 secret: %v", err)
	}
	if _, err := audit.Verify(ctx, store, audit.Options{}); err != nil {
		t.Fatalf("audit verify: %v", err)
	}
}

func TestLoadSecretPepperGeneratesItOnceAndKeepsTheFirstVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sp, err := local.Open(t.TempDir(), local.Options{MasterKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	p1, err := commands.LoadSecretPepper(ctx, sp, nil)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := sp.Get(ctx, commands.SecretPepperName)
	if err != nil || stored.Value.Len() < client.MinPepperBytes {
		t.Fatalf("stored pepper: %v, %d bytes", err, stored.Value.Len())
	}
	// Another instance generating one at the same first start adds a
	// version; everyone keeps using the first.
	if _, err := sp.Put(ctx, commands.SecretPepperName, []byte(strings.Repeat("z", 32))); err != nil {
		t.Fatal(err)
	}
	p2, err := commands.LoadSecretPepper(ctx, sp, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p1.Hash("s") != p2.Hash("s") || p1.IsZero() {
		t.Fatal("the pepper changed between loads")
	}
	short, _ := local.Open(t.TempDir(), local.Options{MasterKey: make([]byte, 32)})
	if _, err := short.Put(ctx, commands.SecretPepperName, []byte("short")); err != nil {
		t.Fatal(err)
	}
	if _, err := commands.LoadSecretPepper(ctx, short, nil); !errors.Is(err, client.ErrInvalidPepper) {
		t.Fatalf("a short pepper: %v", err)
	}
}

// flipLast changes a secret's last character to a different one (a fixed
// replacement would equal it one time in 64).
func flipLast(s string) string {
	last := "A"
	if strings.HasSuffix(s, "A") {
		last = "B"
	}
	return s[:len(s)-1] + last
}
