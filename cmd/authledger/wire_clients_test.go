package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/authledger/authledger/api"
	cmds "github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/client"
)

// buildOnly builds the serve wiring on dataDir without running its
// background tasks: no projection runner feeds the registry, so only what
// the build itself folded, or the ledger, can know a client.
func buildOnly(t *testing.T, dataDir string) (*app, *httptest.Server) {
	t.Helper()
	cfg := Config{Issuer: "http://authledger.test", DataDir: dataDir, LogLevel: "error"}
	cfg.fillDefaults()
	a, err := buildApp(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Config{Logger: a.log, ReadyChecks: a.ready}, a.routes...))
	t.Cleanup(func() {
		srv.Close()
		if err := a.close(); err != nil {
			t.Error(err)
		}
	})
	return a, srv
}

func register(t *testing.T, a *app) (string, string) {
	t.Helper()
	pepper, err := cmds.LoadSecretPepper(context.Background(), a.keys.secrets, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := cmds.NewServices(cmds.ServicesConfig{Store: a.store, Pepper: pepper})
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.Register(context.Background(), cmds.RegisterService{Name: "worker", Scopes: []string{"read"}}, cmds.Metadata{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return string(res.Client.ID), res.ClientSecret
}

// A client registered a moment ago by another instance or the CLI is in
// the ledger before this instance's registry folds it: it authenticates at
// once, not 401 unknown client.
func TestAClientInTheLedgerNotYetInTheRegistryAuthenticates(t *testing.T) {
	t.Parallel()
	a, srv := buildOnly(t, t.TempDir())
	id, secret := register(t, a)
	if _, known, _ := a.clients.registry.Client(context.Background(), client.ID(id)); known {
		t.Fatal("the registry folded the client: the test would not exercise the ledger lookup")
	}
	code, body := form(t, srv.URL, "/oauth2/token", id, secret, url.Values{"grant_type": {"client_credentials"}})
	if code != http.StatusOK {
		t.Fatalf("token for a client only in the ledger = %d %s, want 200", code, body)
	}
	// An id the ledger does not know either is still invalid_client.
	code, body = form(t, srv.URL, "/oauth2/token", "svc-nobody", secret, url.Values{"grant_type": {"client_credentials"}})
	if code != http.StatusUnauthorized {
		t.Fatalf("unknown client = %d %s, want 401", code, body)
	}
}

// A start against a ledger with clients has them in the registry before
// the first request (the build catches it up to the head it saw), so the
// first request after a restart authenticates.
func TestARestartKnowsExistingClientsFromTheFirstRequest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, _ := buildOnly(t, dir)
	id, secret := register(t, first)
	if err := first.close(); err != nil {
		t.Fatal(err)
	}
	a, srv := buildOnly(t, dir)
	if _, known, _ := a.clients.registry.Client(context.Background(), client.ID(id)); !known {
		t.Fatal("after the build the registry does not know a client the ledger holds")
	}
	code, body := form(t, srv.URL, "/oauth2/token", id, secret, url.Values{"grant_type": {"client_credentials"}})
	if code != http.StatusOK {
		t.Fatalf("first token after the restart = %d %s, want 200", code, body)
	}
}
