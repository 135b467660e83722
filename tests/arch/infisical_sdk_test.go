package arch

import (
	"strings"
	"testing"
)

// infisicalSDK is Infisical's Go SDK. It stays behind the secrets port:
// only secrets/infisical imports it, so the rest of the code (the CLI and
// the tests included) sees secrets.Provider and the port's sentinels.
const infisicalSDK = "github.com/infisical/go-sdk"

func mayImportInfisicalSDK(pkg string) bool { return pkg == "secrets/infisical" }

func TestOnlyTheInfisicalProviderImportsTheSDK(t *testing.T) {
	for _, pkg := range []string{"cmd/authledger", "tests/infisicalfake", "tests/chaos", "secrets", "commands", "api"} {
		if mayImportInfisicalSDK(pkg) {
			t.Fatalf("the rule lets %s import the SDK", pkg)
		}
	}
	seen := false
	walkImports(t, func(rel, pkg, imp string, _ bool) {
		if imp != infisicalSDK && !strings.HasPrefix(imp, infisicalSDK+"/") {
			return
		}
		if mayImportInfisicalSDK(pkg) {
			seen = true
			return
		}
		t.Errorf("%s imports %s: only secrets/infisical may (the SDK stays behind the secrets port)", rel, imp)
	})
	if !seen {
		t.Fatal("secrets/infisical does not import the SDK: the walk is not seeing it")
	}
}
