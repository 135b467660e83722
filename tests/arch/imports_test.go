// Package arch keeps the direction of dependencies (docs/architecture.md)
// as an allowed graph: every package of the module is listed with the
// module packages and third-party modules it may import, and anything not
// listed is refused, in test files too. A new package fails this test until
// it is given its place.
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

const module = "github.com/authledger/authledger"

// node is one package pattern of the graph: a path ("commands"), or a
// path with "/..." for it and everything below.
type node struct {
	pkg string
	// may are the module packages (patterns) its non-test files may import.
	may []string
	// ext are the third-party import path prefixes they may import; the
	// standard library is always allowed.
	ext []string
	// testMay and testExt are what its _test.go files may import besides.
	testMay []string
	testExt []string
}

// Groups the graph reuses.
var (
	domain = []string{"domain/..."}
	// testSupport is what tests may build real stacks from: the ledger
	// adapters and contract suites, the secret, session, replay and limit
	// adapters, the composition helpers and read models.
	testSupport = []string{"eventstore/...", "secrets/...", "sessionstore/...", "replayguard", "ratelimit/...", "internal/...",
		"readmodels/...", "projections/...", "commands", "queries", "client/...", "domain/...", "api"}
	testExt = []string{"github.com/google/uuid", "github.com/prometheus/client_model", "github.com/jackc/pgx/v5", "github.com/go-jose/go-jose/v4",
		"github.com/santhosh-tekuri/jsonschema", "github.com/ThreeDotsLabs/watermill", "github.com/labstack/echo/v4", "github.com/prometheus/client_golang", "golang.org/x/",
		"github.com/lestrrat-go/jwx/v2"} // an independent JOSE library, for interoperability tests
	redis = "github.com/redis/go-redis/v9"
	// otelAPI is the OpenTelemetry API the traced layers start spans with;
	// only internal/telemetry (and cmd/) install the SDK and exporter. The
	// prefix match cannot keep otel/sdk out of "go.opentelemetry.io/otel":
	// review catches that.
	otelAPI = []string{"go.opentelemetry.io/otel"}
)

var graph = []node{
	// The core: pure domain, no dependency beyond the standard library.
	{pkg: "domain/event"},
	{pkg: "domain/...", may: domain},

	// The ledger port and its adapters.
	{pkg: "eventstore", ext: []string{"github.com/google/uuid", "github.com/gowebpki/jcs"}},
	{pkg: "eventstore/internal/...", may: []string{"eventstore"}, ext: otelAPI},
	{pkg: "eventstore/memstore", may: []string{"eventstore", "eventstore/internal/..."}, testMay: []string{"eventstore/storetest"}},
	{pkg: "eventstore/sqlite", may: []string{"eventstore", "eventstore/internal/...", "internal/migrate"}, ext: []string{"modernc.org/sqlite", "golang.org/x/sys/unix"}, testMay: []string{"eventstore/storetest"}},
	{pkg: "eventstore/postgres", may: []string{"eventstore", "eventstore/internal/...", "internal/migrate"}, ext: []string{"github.com/jackc/pgx/v5"}, testMay: []string{"eventstore/storetest", "internal/pgtest"}},
	// The EventStoreDB adapter: the v4 client only (linking KurrentDB's
	// client too panics at start on duplicate protobuf registrations).
	{pkg: "eventstore/esdb", may: []string{"eventstore", "eventstore/internal/..."}, ext: []string{"github.com/EventStore/EventStore-Client-Go/v4", "github.com/google/uuid"},
		testMay: []string{"eventstore/storetest", "eventstore/audit", "eventstore/esdb/esdbtest", "eventstore/postgres", "internal/pgtest"}},
	{pkg: "eventstore/esdb/esdbtest", ext: []string{"github.com/EventStore/EventStore-Client-Go/v4", "github.com/google/uuid", "google.golang.org/grpc"}},
	{pkg: "eventstore/storetest", may: append([]string{"eventstore"}, domain...), ext: []string{"github.com/google/uuid"}},
	{pkg: "eventstore/audit", may: append([]string{"eventstore"}, domain...), ext: []string{"github.com/go-jose/go-jose/v4", "github.com/google/uuid"},
		testMay: []string{"eventstore/...", "commands", "secrets/...", "readmodels/jwks", "internal/pgtest"}, testExt: []string{"github.com/gowebpki/jcs"}},

	// Secrets: the port and its adapters.
	{pkg: "secrets"},
	{pkg: "secrets/...", may: []string{"secrets"}, testMay: []string{"secrets/secretstest"}},
	// The Infisical provider is the only package that imports the SDK
	// (infisical_sdk_test.go refuses it everywhere else, cmd/ and tests/ too).
	{pkg: "secrets/infisical", may: []string{"secrets"}, ext: []string{infisicalSDK, "github.com/prometheus/client_golang", "github.com/sony/gobreaker/v2"},
		testMay: []string{"secrets/secretstest", "tests/infisicalfake"}, testExt: []string{"github.com/prometheus/client_golang"}},

	// The write side: handlers decide through the domain and append to the
	// ledger port; they know no HTTP, no read model, no Redis.
	{pkg: "commands", may: append([]string{"eventstore", "secrets"}, domain...),
		ext: append([]string{"github.com/go-jose/go-jose/v4", "github.com/google/uuid", "github.com/prometheus/client_golang"}, otelAPI...), testMay: testSupport, testExt: testExt},
	// Write-side state beside the ledger.
	{pkg: "sessionstore", may: domain, ext: []string{redis}, testMay: testSupport, testExt: append(testExt, redis)},
	{pkg: "sessionstore/sessionstoretest", may: []string{"sessionstore"}, ext: []string{redis}},
	{pkg: "replayguard", ext: []string{redis}, testMay: testSupport, testExt: append(testExt, redis)},
	{pkg: "ratelimit", ext: []string{redis, "golang.org/x/time"}, testMay: testSupport, testExt: append(testExt, redis)},
	{pkg: "ratelimit/ratelimittest", may: []string{"ratelimit", "internal/redistest"}, ext: []string{redis}},

	// The read side.
	{pkg: "queries", may: domain, testMay: testSupport, testExt: testExt},
	{pkg: "projections", may: []string{"eventstore", "internal/migrate"},
		ext: append([]string{"github.com/ThreeDotsLabs/watermill", "github.com/jackc/pgx/v5", "github.com/prometheus/client_golang", "modernc.org/sqlite"}, otelAPI...), testMay: testSupport, testExt: testExt},
	// The SQL projection contract builds its ledger from domain decisions.
	{pkg: "projections/projectiontest", may: append([]string{"projections", "eventstore", "eventstore/memstore", "internal/pgtest"}, domain...)},
	{pkg: "readmodels", ext: []string{"github.com/jackc/pgx/v5", "modernc.org/sqlite"}, testMay: testSupport, testExt: testExt},
	// The RevocationPublisher contract suite runs against the commands port.
	{pkg: "readmodels/revocations/revocationstest", may: []string{"readmodels/revocations", "commands"}},
	// The audit model answers the queries' AuditReader port.
	{pkg: "readmodels/audit", may: append([]string{"eventstore", "projections", "queries"}, domain...), testMay: testSupport, testExt: testExt},
	{pkg: "readmodels/...", may: append([]string{"eventstore", "projections", "internal/bus", "client/verifier"}, domain...),
		ext: []string{"github.com/ThreeDotsLabs/watermill"}, testMay: testSupport, testExt: append(testExt, redis)},
	// The cross-instance bus.
	{pkg: "internal/bus", ext: []string{"github.com/ThreeDotsLabs/watermill", "github.com/ThreeDotsLabs/watermill-redisstream", redis}, testMay: testSupport, testExt: append(testExt, redis)},

	// HTTP: thin handlers over use-case interfaces and read models; never
	// the ledger, a store adapter or Redis.
	{pkg: "api", may: append([]string{"commands", "queries", "readmodels/revocations", "internal/strictjson"}, domain...),
		ext:     append([]string{"github.com/labstack/echo/v4", "github.com/prometheus/client_golang", "gopkg.in/yaml.v3"}, otelAPI...),
		testMay: testSupport, testExt: testExt},

	// The sign-in module (docs/login.md): the passkey ceremonies on
	// go-webauthn, a client of the token commands; no ledger adapter.
	{pkg: "login", may: append([]string{"api", "commands", "queries"}, domain...), ext: []string{"github.com/go-webauthn/webauthn", "github.com/labstack/echo/v4",
		"github.com/coreos/go-oidc/v3", "github.com/go-jose/go-jose/v4", "golang.org/x/oauth2", redis},
		testMay: testSupport, testExt: append(testExt, "github.com/go-webauthn/webauthn", "github.com/coreos/go-oidc/v3", redis)},

	// What other services import: nothing of the server, and no web
	// framework either (client/ is a module of its own; client/echoverifier
	// is one of its own again).
	{pkg: "client/...", may: []string{"client/..."}, ext: []string{"github.com/go-jose/go-jose/v4", "github.com/sony/gobreaker/v2", "golang.org/x/"},
		testExt: []string{"golang.org/x/"}},
	// The Echo middleware: its own module, so Echo reaches only who asks.
	{pkg: "client/echoverifier", may: []string{"client/verifier"}, ext: []string{"github.com/labstack/echo/v4"}},

	// Composition: the one place that knows every part.
	{pkg: "internal/compose", may: append([]string{"api", "commands", "queries", "client/verifier", "eventstore"}, domain...)},
	{pkg: "internal/migrate"},
	// Operational metrics: decorators of the ledger, secret and limiter ports.
	{pkg: "internal/opsmetrics", may: append([]string{"eventstore", "secrets"}, domain...), ext: []string{"github.com/prometheus/client_golang"},
		testMay: testSupport, testExt: testExt},
	// Tracing set-up: the SDK and the OTLP exporter, from OTEL_* variables.
	{pkg: "internal/telemetry", ext: []string{"go.opentelemetry.io/otel"}},
	// The strict JSON decoder of request bodies: standard library only.
	{pkg: "internal/strictjson"},
	{pkg: "internal/pgtest", ext: []string{"github.com/jackc/pgx/v5"}},
	{pkg: "internal/redistest", ext: []string{redis}},
	{pkg: "internal/redisguard", ext: []string{redis, "github.com/sony/gobreaker/v2"}, testMay: testSupport, testExt: append(testExt, redis)},
	{pkg: "cmd/...", may: []string{"..."}, ext: []string{""}, testMay: []string{"..."}, testExt: []string{""}},
	{pkg: "tests/...", may: []string{"..."}, ext: []string{""}, testMay: []string{"..."}, testExt: []string{""}},
}

// nodeOf is the most specific node whose pattern covers pkg.
func nodeOf(pkg string) (node, bool) {
	var best node
	found := false
	for _, n := range graph {
		if matches(n.pkg, pkg) && (!found || specificity(n.pkg) > specificity(best.pkg)) {
			best, found = n, true
		}
	}
	return best, found
}

func specificity(pattern string) int {
	if strings.HasSuffix(pattern, "/...") {
		return 2 * len(strings.TrimSuffix(pattern, "/..."))
	}
	return 2*len(pattern) + 1
}

func matches(pattern, pkg string) bool {
	if pattern == "..." {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	return pkg == pattern
}

func anyMatches(patterns []string, pkg string) bool {
	for _, p := range patterns {
		if matches(p, pkg) {
			return true
		}
	}
	return false
}

func hasPrefix(prefixes []string, imp string) bool {
	for _, p := range prefixes {
		if p == "" || imp == p || strings.HasPrefix(imp, strings.TrimSuffix(p, "/")+"/") || (strings.HasSuffix(p, "/") && strings.HasPrefix(imp, p)) {
			return true
		}
	}
	return false
}

// allowed says whether a file of pkg (a test file when test) may import
// imp, and if not, why.
func allowed(pkg, imp string, test bool) (bool, string) {
	n, ok := nodeOf(pkg)
	if !ok {
		return false, "package " + pkg + " has no place in the graph (tests/arch)"
	}
	if internal, ok := strings.CutPrefix(imp, module+"/"); ok {
		if internal == pkg || anyMatches(n.may, internal) || (test && anyMatches(n.testMay, internal)) {
			return true, ""
		}
		return false, "not in its allowed imports"
	}
	if !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
		return true, "" // the standard library
	}
	if hasPrefix(n.ext, imp) || (test && hasPrefix(n.testExt, imp)) {
		return true, ""
	}
	return false, "third-party module not allowed here"
}

// walkImports calls fn for every import of every Go file of the module
// (test files included), by the file's path and package folder relative
// to the module root.
func walkImports(t *testing.T, fn func(rel, pkg, imp string, test bool)) (files, tests int) {
	t.Helper()
	root := moduleRoot(t)
	fset := token.NewFileSet()
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
		test := strings.HasSuffix(path, "_test.go")
		files++
		if test {
			tests++
		}
		for _, is := range f.Imports {
			fn(rel, pkg, strings.Trim(is.Path.Value, `"`), test)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, tests
}

func TestImportsFollowTheAllowedGraph(t *testing.T) {
	checked, tests := walkImports(t, func(rel, pkg, imp string, test bool) {
		if ok, why := allowed(pkg, imp, test); !ok {
			t.Errorf("%s imports %s: %s", rel, imp, why)
		}
	})
	if checked < 100 || tests < 50 {
		t.Fatalf("only %d files (%d tests) checked: the walk is not seeing the module", checked, tests)
	}
}

// The graph itself refuses what the architecture forbids; these cases fail
// if a later edit of the graph allows them.
func TestTheGraphRefusesTheForbiddenEdges(t *testing.T) {
	cases := []struct {
		pkg, imp string
		test     bool
	}{
		{"api", module + "/eventstore", false},
		{"api", module + "/eventstore/sqlite", false},
		{"api", redis, false},
		{"api", redis, true},
		{"api", "github.com/jackc/pgx/v5", false},
		{"readmodels/jwks", module + "/commands", false},
		{"readmodels/sessions", module + "/commands", false},
		{"projections", module + "/readmodels/jwks", false},
		{"projections", module + "/readmodels", false},
		{"commands", module + "/api", false},
		{"commands", "github.com/labstack/echo/v4", false},
		{"commands", module + "/eventstore/postgres", false},
		{"commands", module + "/readmodels/revocations", false},
		{"domain/oauth", "net/http", false},
		{"domain/session", module + "/eventstore", false},
		{"client/verifier", module + "/domain/token", false},
		{"client/verifier", module + "/domain/token", true},
		{"queries", module + "/eventstore", false},
		{"internal/compose", module + "/eventstore/sqlite", false},
		{"newpackage", "fmt", false},
	}
	for _, c := range cases {
		ok, _ := allowed(c.pkg, c.imp, c.test)
		if c.imp == "net/http" {
			ok = !domainMayNotSpeakHTTP(c.pkg, c.imp)
		}
		if ok {
			t.Errorf("the graph allows %s (test files: %v) to import %s", c.pkg, c.test, c.imp)
		}
	}
}

// domainMayNotSpeakHTTP: domain/oauth carries RFC 6749 codes, never an HTTP
// status (api/errors.go maps them); the standard library is otherwise
// open to domain code, so this edge is named on its own.
func domainMayNotSpeakHTTP(pkg, imp string) bool {
	return matches("domain/...", pkg) && (imp == "net/http" || strings.HasPrefix(imp, "net/http/"))
}

func TestDomainImportsNoHTTP(t *testing.T) {
	root := moduleRoot(t)
	fset := token.NewFileSet()
	err := filepath.WalkDir(filepath.Join(root, "domain"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		pkg := filepath.ToSlash(filepath.Dir(rel))
		for _, is := range f.Imports {
			if imp := strings.Trim(is.Path.Value, `"`); domainMayNotSpeakHTTP(pkg, imp) {
				t.Errorf("%s imports %s: HTTP statuses belong in api/errors.go", rel, imp)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
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
