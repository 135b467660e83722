package e2e

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/authledger/authledger/eventstore/esdb/esdbtest"
	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// The real binary on an esdb:// ledger (the in-process EventStoreDB):
// tokens are issued, the CLI registers a client against the same ledger
// while the server runs, and audit verify and projections status work
// unchanged.
func TestTheBinaryOnEventStoreDB(t *testing.T) {
	t.Parallel()
	es, err := esdbtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(es.Stop)
	store := es.URL() + "&ledger_stream=ledger-e2e"
	srv := e2eharness.Start(t, bin, e2eharness.Options{Env: map[string]string{"AUTHLEDGER_STORE": store}})

	svc := registerService(t, srv, "--name", "reports", "--scopes", "reports:read")
	cc := clientcredentials.Config{ClientID: svc.ClientID, ClientSecret: svc.ClientSecret, TokenURL: srv.BaseURL + "/oauth2/token", Scopes: []string{"reports:read"}}
	eventually(t, "a token from the esdb-backed server", func() error {
		_, err := cc.Token(context.Background())
		return err
	})
	if es.Len("ledger-e2e") < 3 {
		t.Fatalf("the ledger stream holds %d events", es.Len("ledger-e2e"))
	}
	if res := srv.CLI("audit", "verify"); res.Code != 0 || !strings.HasPrefix(res.Stdout, "ok: head position ") {
		t.Fatalf("audit verify on esdb: exit %d %s %s", res.Code, res.Stdout, res.Stderr)
	}
	if res := srv.CLI("projections", "status"); res.Code != 0 || !strings.Contains(res.Stdout, "refresh_families.v1") {
		t.Fatalf("projections status on esdb: exit %d %s %s", res.Code, res.Stdout, res.Stderr)
	}
	if res := srv.CLI("keys", "list"); res.Code != 0 || !strings.Contains(res.Stdout, "active") {
		t.Fatalf("keys list on esdb: exit %d %s %s", res.Code, res.Stdout, res.Stderr)
	}
}
