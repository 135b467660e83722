package arch

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
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
	root := moduleRoot(t)
	fset := token.NewFileSet()
	seen := false
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "data" || d.Name() == "testdata" || d.Name() == "bin" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(filepath.Dir(rel))
		for _, is := range f.Imports {
			imp := strings.Trim(is.Path.Value, `"`)
			if imp != infisicalSDK && !strings.HasPrefix(imp, infisicalSDK+"/") {
				continue
			}
			if mayImportInfisicalSDK(pkg) {
				seen = true
				continue
			}
			t.Errorf("%s imports %s: only secrets/infisical may (the SDK stays behind the secrets port)", rel, imp)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !seen {
		t.Fatal("secrets/infisical does not import the SDK: the walk is not seeing it")
	}
}
