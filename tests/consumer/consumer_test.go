package consumer

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// serverOnly are module paths only the server may need: a consumer that
// imports client/verifier or client/m2m must see none of them, not even as
// a go.mod hash in go.sum.
var serverOnly = []string{
	"github.com/jackc/pgx", "modernc.org/sqlite", "github.com/labstack/echo", "github.com/lestrrat-go/",
	"github.com/redis/go-redis", "github.com/ThreeDotsLabs/watermill", "github.com/prometheus/client_golang",
	"github.com/authledger/authledger ", // the server module itself (the client module is "…/client")
}

const mainGo = `package main

import (
	"context"
	"log"
	"net/http"

	"github.com/authledger/authledger/client/m2m"
	"github.com/authledger/authledger/client/verifier"
)

func main() {
	keys, err := verifier.NewRemote(verifier.RemoteConfig{URL: "https://auth.example/.well-known/jwks.json"})
	if err != nil {
		log.Fatal(err)
	}
	revs, err := verifier.NewFollower(verifier.FollowerConfig{URL: "https://auth.example/v1/revocations"})
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = revs.Run(context.Background()) }()
	v, err := verifier.New(verifier.Config{Issuer: "https://auth.example", Audiences: []string{"https://orders.example"},
		Keys: keys, Revocation: revs, Leeway: verifier.DefaultLeeway})
	if err != nil {
		log.Fatal(err)
	}
	ts, err := m2m.New(m2m.Config{TokenURL: "https://auth.example/oauth2/token", ClientID: "svc", ClientSecret: "s"})
	if err != nil {
		log.Fatal(err)
	}
	_ = ts
	http.Handle("/orders", verifier.Middleware(v)(verifier.RequireScopes("orders:read")(http.NotFoundHandler())))
}
`

func TestAConsumerOutsideTheModuleGetsNoServerDependencies(t *testing.T) {
	root, err := e2eharness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	goMod := "module example.com/orders\n\ngo 1.26.0\n\nrequire github.com/authledger/authledger/client v0.0.0\n\n" +
		"replace github.com/authledger/authledger/client => " + filepath.Join(root, "client") + "\n"
	for name, body := range map[string]string{"go.mod": goMod, "main.go": mainGo} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Outside any workspace, resolving modules as a consumer would: through
	// GOPROXY (inherited from the environment) into its own go.sum.
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("mod", "tidy")
	run("build", "-o", filepath.Join(dir, "orders"), ".")
	sum, err := os.ReadFile(filepath.Join(dir, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(sum), "github.com/go-jose/go-jose/v4 ") {
		t.Fatalf("go.sum lacks go-jose, so it is not the consumer's real go.sum:\n%s", sum)
	}
	graph := run("list", "-m", "all")
	deps := run("list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".")
	for _, pkg := range strings.Fields(deps) {
		if strings.HasPrefix(pkg, "github.com/authledger/authledger/") && !strings.HasPrefix(pkg, "github.com/authledger/authledger/client/") {
			t.Errorf("the consumer builds a server package: %s", pkg)
		}
	}
	for _, bad := range serverOnly {
		for what, text := range map[string]string{"go.sum": string(sum), "the module graph": graph + "\n", "the imported packages": deps} {
			for _, line := range strings.Split(text, "\n") {
				if strings.HasPrefix(line+" ", bad) {
					t.Errorf("%s holds a server dependency: %s", what, line)
				}
			}
		}
	}
}
