package projections_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestProjectionsImportsNothingUnderReadmodels keeps the direction of
// imports one way: read models import the projection engine, never the
// reverse (test files included, subpackages such as projectiontest too).
func TestProjectionsImportsNothingUnderReadmodels(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == "github.com/authledger/authledger/readmodels" || strings.HasPrefix(p, "github.com/authledger/authledger/readmodels/") {
				t.Errorf("%s imports %s: projections must not depend on read models", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
