package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authledger/authledger/api"
	cmds "github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/eventstore/sqlite"
	"github.com/authledger/authledger/readmodels/services"
	"github.com/authledger/authledger/secrets/local"
)

func writeJWK(t *testing.T, private bool) string {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(pub)}
	if private {
		m["d"] = base64.RawURLEncoding.EncodeToString(priv.Seed())
	}
	b, _ := json.Marshal(m)
	p := filepath.Join(t.TempDir(), "key.jwk")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestServicesCLIAgainstARunningServersStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	// The "server": its own store handle and a registry following it.
	server, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Close() })
	reg := services.New()
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = reg.Follow(fctx, server) }()
	t.Cleanup(func() { cancel(); <-done })

	// The CLI: a second handle on the same file, as a second process has.
	cli, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	// The secret provider both processes share, holding the pepper.
	sp, err := local.Open(t.TempDir(), local.Options{MasterKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	pepper := func(ctx context.Context) (client.Pepper, error) { return cmds.LoadSecretPepper(ctx, sp, nil) }
	serverPepper, err := pepper(ctx)
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := servicesCLI(ctx, cli, pepper, args, &out, &errb)
		return out.String(), err
	}

	out, err := run("register", "--name", "billing", "--scopes", "a b", "--audience", "https://x.test", "--audience", "https://y.test")
	if err != nil {
		t.Fatal(err)
	}
	var reg1 api.ServiceResponse
	if err := json.Unmarshal([]byte(out), &reg1); err != nil {
		t.Fatalf("register output %q: %v", out, err)
	}
	if reg1.ClientID == "" || len(reg1.ClientSecret) < 43 || len(reg1.Audiences) != 2 || strings.Join(reg1.Scopes, " ") != "a b" {
		t.Fatalf("register output %+v", reg1)
	}
	start := time.Now()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if v, ok, _ := reg.Client(ctx, client.ID(reg1.ClientID)); ok {
			if !v.SecretMatches(reg1.ClientSecret, serverPepper, time.Now()) {
				t.Fatal("the server's registry does not accept the printed secret")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the server never saw the CLI's registration")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("server saw the CLI registration after %v", time.Since(start))

	keyOnly, err := run("register", "--name", "keyed", "--no-scopes", "--jwk", writeJWK(t, false))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(keyOnly, "client_secret") {
		t.Fatalf("a key-only registration printed a secret: %s", keyOnly)
	}
	if _, err := run("register", "--name", "bad", "--scopes", "a", "--jwk", writeJWK(t, true)); !errors.Is(err, client.ErrPrivateJWK) || !strings.Contains(err.Error(), "private key") {
		t.Fatalf("private JWK: %v", err)
	}
	if out, err := run("show", reg1.ClientID); err != nil || strings.Contains(out, "client_secret") || !strings.Contains(out, "billing") {
		t.Fatalf("show: %v %s", err, out)
	}
	if out, err := run("list", "--json"); err != nil || strings.Count(out, `"client_id"`) != 2 {
		t.Fatalf("list --json: %v %s", err, out)
	}
	if out, err := run("list"); err != nil || !strings.HasPrefix(out, "CLIENT_ID") || !strings.Contains(out, reg1.ClientID) {
		t.Fatalf("list (table): %v %s", err, out)
	}
	if out, err := run("rotate-secret", reg1.ClientID, "--immediately"); err != nil || !strings.Contains(out, "client_secret") {
		t.Fatalf("rotate: %v %s", err, out)
	}
	if _, err := run("add-key", reg1.ClientID, "--jwk", writeJWK(t, false)); err != nil {
		t.Fatalf("add-key: %v", err)
	}
	if out, err := run("disable", reg1.ClientID, "--reason", "test"); err != nil || !strings.Contains(out, `"disabled": true`) {
		t.Fatalf("disable: %v %s", err, out)
	}
	if _, err := run("show", "svc-nope"); !errors.Is(err, client.ErrNotRegistered) {
		t.Fatalf("show unknown: %v", err)
	}
	for _, args := range [][]string{
		{"register", "--scopes", "a"},                                        // no name
		{"register", "--name", "n"},                                          // no scopes, no --no-scopes
		{"register", "--name", "n", "--scopes", "a", "--no-scopes"},          // contradiction
		{"rotate-secret", reg1.ClientID, "--window", "48h", "--immediately"}, // contradiction
		{"remove-key", reg1.ClientID},                                        // no KID
		{"list", "-o", "yaml"},
	} {
		if _, err := run(args...); exitCode(err) != 2 {
			t.Errorf("%v: %v, want a usage error (exit 2)", args, err)
		}
	}
	// The ledger holds hashes, never the printed secret.
	recs, err := cli.ReadAll(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if bytes.Contains(r.Data, []byte(reg1.ClientSecret)) {
			t.Fatalf("event %d holds the secret", r.Position)
		}
	}
}

func TestServicesRegisterSaysWhichGrantsArePrivileged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ledger.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	sp, err := local.Open(t.TempDir(), local.Options{MasterKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	pepper := func(ctx context.Context) (client.Pepper, error) { return cmds.LoadSecretPepper(ctx, sp, nil) }
	var out, errb bytes.Buffer
	if err := servicesCLI(ctx, store, pepper, []string{"register", "--name", "login", "--scopes", "profile sessions:create", "--audience", "api", "--audience", "https://x.test"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	var res api.ServiceResponse
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	if strings.Join(res.Privileged.Scopes, " ") != "sessions:create" || strings.Join(res.Privileged.Audiences, " ") != "api" {
		t.Fatalf("privileged = %+v", res.Privileged)
	}
	for _, want := range []string{`privileged scope "sessions:create"`, client.PrivilegedScopes["sessions:create"], `privileged audience "api"`} {
		if !strings.Contains(errb.String(), want) {
			t.Fatalf("stderr %q does not say %q", errb.String(), want)
		}
	}
	out.Reset()
	errb.Reset()
	if err := servicesCLI(ctx, store, pepper, []string{"register", "--name", "plain", "--scopes", "profile"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if errb.Len() != 0 || !strings.Contains(out.String(), `"privileged": {`) {
		t.Fatalf("an unprivileged registration: stderr %q, out %s", errb.String(), out.String())
	}
}
