// Package arch keeps the direction of dependencies of STYLE.md:
// api → commands, readmodels → domain and eventstore → domain; domain/
// imports the standard library only; api/ never imports eventstore/ adapters
// or SQL drivers; only cmd/ knows every package.
package arch

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const module = "authledger"

type rule struct {
	name string
	// dir is a module-relative directory prefix the rule applies to.
	dir string
	// forbidden reports why an import is not allowed, or "".
	forbidden func(imp string) string
}

func TestImportDirection(t *testing.T) {
	root := moduleRoot(t)
	rules := []rule{
		{"domain imports the standard library only", "domain/", func(imp string) string {
			if strings.HasPrefix(imp, module+"/domain/") || !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") && !strings.HasPrefix(imp, module+"/") {
				return ""
			}
			return "domain code has no dependencies beyond the standard library and other domain packages"
		}},
		{"api never reaches the ledger adapters", "api/", func(imp string) string {
			for _, bad := range []string{module + "/eventstore/sqlite", module + "/eventstore/postgres", "github.com/jackc/pgx", "modernc.org/sqlite"} {
				if strings.HasPrefix(imp, bad) {
					return "handlers call commands and read models, never a store adapter"
				}
			}
			return ""
		}},
		{"commands do not know HTTP", "commands/", func(imp string) string {
			if strings.HasPrefix(imp, module+"/api") || strings.HasPrefix(imp, "github.com/labstack/echo") {
				return "commands are transport-independent"
			}
			return ""
		}},
		{"nothing but cmd and tests imports cmd", "", func(imp string) string {
			if strings.HasPrefix(imp, module+"/cmd/") {
				return "cmd/ is the composition root"
			}
			return ""
		}},
		{"client packages stand alone", "client/", func(imp string) string {
			if strings.HasPrefix(imp, module+"/") && !strings.HasPrefix(imp, module+"/client/") {
				return "other services import client/; it must not drag the server in"
			}
			return ""
		}},
	}
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "data" || d.Name() == "testdata" || d.Name() == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, is := range f.Imports {
			imp := strings.Trim(is.Path.Value, `"`)
			for _, r := range rules {
				if !strings.HasPrefix(rel, r.dir) {
					continue
				}
				if r.dir == "" && (strings.HasPrefix(rel, "cmd/") || strings.HasPrefix(rel, "tests/")) {
					continue
				}
				if why := r.forbidden(imp); why != "" {
					t.Errorf("%s imports %s: %s (%s)", rel, imp, why, r.name)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Fatalf("only %d files checked: the walk is not seeing the module", checked)
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}
