package commands_test

import (
	"context"
	"errors"
	"testing"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/oauth"
	"github.com/authledger/authledger/replayguard"
)

// A client the registry has not folded yet is read from its ledger stream:
// it authenticates, a disabled one is still refused, an unknown id too.
func TestLedgerClientsAnswersForAClientTheRegistryHasNotFolded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, reg, store := svcFixture(t)
	a, err := commands.NewClientAuthenticator(commands.ClientAuthConfig{Directory: commands.LedgerClients(reg, commands.Clients(store)), Pepper: testPepper,
		Replay: replayguard.NewMemory(nil), Issuer: "https://as.test"})
	if err != nil {
		t.Fatal(err)
	}
	live, err := s.Register(ctx, commands.RegisterService{Name: "live"}, commands.Metadata{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	off, err := s.Register(ctx, commands.RegisterService{Name: "off"}, commands.Metadata{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Disable(ctx, commands.DisableService{ClientID: off.Client.ID}, commands.Metadata{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	// reg is never caught up here.
	got, err := a.Authenticate(ctx, commands.ClientCredentials{Method: commands.AuthSecretBasic, ClientID: string(live.Client.ID), Secret: live.ClientSecret})
	if err != nil || got.ID != live.Client.ID {
		t.Fatalf("client only in the ledger: %+v, %v", got, err)
	}
	for name, cred := range map[string]commands.ClientCredentials{
		"disabled":     {Method: commands.AuthSecretBasic, ClientID: string(off.Client.ID), Secret: off.ClientSecret},
		"unknown":      {Method: commands.AuthSecretBasic, ClientID: "svc-nobody", Secret: live.ClientSecret},
		"wrong secret": {Method: commands.AuthSecretBasic, ClientID: string(live.Client.ID), Secret: off.ClientSecret},
	} {
		if _, err := a.Authenticate(ctx, cred); !errors.Is(err, oauth.ErrInvalidClient) {
			t.Errorf("%s: %v, want invalid_client", name, err)
		}
	}
}
