package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/readmodels/revocations"
)

func mustOpenAPI(t *testing.T) *OpenAPI {
	t.Helper()
	o, err := NewOpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// openAPIDoc is the document as generic JSON values, as a client sees it.
func openAPIDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(mustOpenAPI(t).JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// projectionAdminStub satisfies the port; the route table never calls it.
type projectionAdminStub struct{}

func (projectionAdminStub) ProjectionStatus(context.Context) ([]ProjectionInfo, error) {
	return nil, nil
}
func (projectionAdminStub) RequestRebuild(context.Context, string) error { return nil }

// everyGroup registers every route group of the package. The handlers are
// never called, so their dependencies may be nil; only the route table
// matters. cmd/authledger's test does the same with the real wiring.
func everyGroup(t *testing.T) *echo.Echo {
	t.Helper()
	pass := func(next echo.HandlerFunc) echo.HandlerFunc { return next }
	te, err := NewTokenEndpoint(nil)
	if err != nil {
		t.Fatal(err)
	}
	return New(Config{},
		NewMetrics(prometheus.NewRegistry()),
		mustOpenAPI(t),
		JWKS{},
		Metadata{Document: NewAuthServerMetadata("https://issuer.example")},
		AuditCheckpoint{Guard: pass},
		AuditEvents{Guard: pass},
		AuditCheckpoints{Guard: pass},
		Me{},
		te,
		NewRevoke(nil, nil),
		NewIntrospect(nil, nil),
		NewSessions(SessionUseCases{}, nil, 0),
		NewRevocations(nil),
		NewAdminServices(nil, nil, pass),
		NewAdminProjections(projectionAdminStub{}, pass),
		InfisicalWebhook{},
	)
}

func TestOpenAPIDocumentsEveryRouteOfEveryGroup(t *testing.T) {
	if err := mustOpenAPI(t).CheckRoutes(everyGroup(t).Routes()); err != nil {
		t.Fatal(err)
	}
}

func TestCheckRoutesNamesWhatIsMissingOnEitherSide(t *testing.T) {
	o := mustOpenAPI(t)
	e := everyGroup(t)
	e.PUT("/v1/undocumented/:thing", func(echo.Context) error { return nil })
	err := o.CheckRoutes(e.Routes())
	if err == nil || !strings.Contains(err.Error(), "routed but not in openapi.yaml: PUT /v1/undocumented/{thing}") {
		t.Fatalf("an undocumented route passed: %v", err)
	}
	err = o.CheckRoutes(New(Config{}).Routes())
	if err == nil || !strings.Contains(err.Error(), "in openapi.yaml but not routed: POST /oauth2/token") {
		t.Fatalf("a documented but unrouted path passed: %v", err)
	}
}

func TestOpenAPIPathTurnsEchoParamsIntoTemplates(t *testing.T) {
	for in, want := range map[string]string{
		"/v1/sessions/:id":                    "/v1/sessions/{id}",
		"/v1/admin/services/:id/keys/:kid":    "/v1/admin/services/{id}/keys/{kid}",
		"/.well-known/jwks.json":              "/.well-known/jwks.json",
		"/v1/admin/projections/:name/rebuild": "/v1/admin/projections/{name}/rebuild",
	} {
		if got := OpenAPIPath(in); got != want {
			t.Errorf("OpenAPIPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOpenAPIDocumentIsWellFormed checks the structure a code generator or
// documentation viewer relies on; no OpenAPI library is vendored, so the
// checks are explicit.
func TestOpenAPIDocumentIsWellFormed(t *testing.T) {
	doc := openAPIDoc(t)
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Fatalf("openapi = %q, want 3.1.x", v)
	}
	info, _ := doc["info"].(map[string]any)
	if info["title"] == nil || info["version"] == nil {
		t.Fatal("info needs title and version")
	}
	comps, _ := doc["components"].(map[string]any)
	schemes, _ := comps["securitySchemes"].(map[string]any)
	for _, s := range []string{"clientSecretBasic", "clientSecretPost", "privateKeyJwt", "bearerToken", "sessionCookie"} {
		if schemes[s] == nil {
			t.Errorf("security scheme %s missing", s)
		}
	}

	// Every $ref resolves inside the document.
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				if _, ok := resolvePointer(doc, ref); !ok {
					t.Errorf("%s: $ref %s does not resolve", at, ref)
				}
			}
			for k, y := range x {
				walk(y, at+"/"+k)
			}
		case []any:
			for _, y := range x {
				walk(y, at)
			}
		}
	}
	walk(doc, "#")

	opIDs := map[string]string{}
	paths, _ := doc["paths"].(map[string]any)
	tmpl := regexp.MustCompile(`\{([^}]+)\}`)
	for p, raw := range paths {
		item := raw.(map[string]any)
		var wantParams []string
		for _, m := range tmpl.FindAllStringSubmatch(p, -1) {
			wantParams = append(wantParams, m[1])
		}
		pathLevel := pathParams(t, doc, item["parameters"])
		for _, method := range httpMethods {
			raw, ok := item[method]
			if !ok {
				continue
			}
			op := raw.(map[string]any)
			where := strings.ToUpper(method) + " " + p
			id, _ := op["operationId"].(string)
			if id == "" {
				t.Errorf("%s: no operationId", where)
			} else if prev, dup := opIDs[id]; dup {
				t.Errorf("%s: operationId %s already used by %s", where, id, prev)
			}
			opIDs[id] = where
			resp, _ := op["responses"].(map[string]any)
			if len(resp) == 0 {
				t.Errorf("%s: no responses", where)
			}
			for code := range resp {
				if !regexp.MustCompile(`^[1-5][0-9][0-9]$`).MatchString(code) {
					t.Errorf("%s: response key %q is not a status code", where, code)
				}
			}
			declared := append(slices.Clone(pathLevel), pathParams(t, doc, op["parameters"])...)
			slices.Sort(declared)
			want := slices.Clone(wantParams)
			slices.Sort(want)
			if !slices.Equal(slices.Compact(declared), want) {
				t.Errorf("%s: path parameters %v, template has %v", where, declared, want)
			}
			sec, ok := op["security"].([]any)
			if !ok {
				t.Errorf("%s: no explicit security (use [] for public endpoints)", where)
			}
			var bearerScopes []string
			for _, req := range sec {
				for name, scopes := range req.(map[string]any) {
					if schemes[name] == nil {
						t.Errorf("%s: unknown security scheme %s", where, name)
					}
					if name == "bearerToken" {
						for _, s := range scopes.([]any) {
							bearerScopes = append(bearerScopes, s.(string))
						}
					}
				}
			}
			var xScopes []string
			if xs, ok := op["x-required-scopes"].([]any); ok {
				for _, s := range xs {
					xScopes = append(xScopes, s.(string))
				}
			}
			if !slices.Equal(bearerScopes, xScopes) {
				t.Errorf("%s: bearer scopes %v but x-required-scopes %v", where, bearerScopes, xScopes)
			}
		}
	}
}

func resolvePointer(doc map[string]any, ref string) (any, bool) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, false
	}
	var cur any = doc
	for _, seg := range strings.Split(ref[2:], "/") {
		seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[seg]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func pathParams(t *testing.T, doc map[string]any, raw any) []string {
	t.Helper()
	list, _ := raw.([]any)
	var out []string
	for _, p := range list {
		m, _ := p.(map[string]any)
		if ref, ok := m["$ref"].(string); ok {
			r, ok := resolvePointer(doc, ref)
			if !ok {
				continue
			}
			m, _ = r.(map[string]any)
		}
		if m["in"] == "path" {
			if m["required"] != true {
				t.Errorf("path parameter %v must be required", m["name"])
			}
			out = append(out, m["name"].(string))
		}
	}
	return out
}

func TestOpenAPIRequiresTheScopesTheHandlersCheck(t *testing.T) {
	doc := openAPIDoc(t)
	paths := doc["paths"].(map[string]any)
	scopeOf := func(path, method string) []any {
		op := paths[path].(map[string]any)[method].(map[string]any)
		s, _ := op["x-required-scopes"].([]any)
		return s
	}
	for _, c := range []struct{ path, method, scope string }{
		{"/v1/sessions", "post", SessionsCreateScope},
		{"/v1/sessions/{id}/elevate", "post", SessionsCreateScope},
		{"/v1/audit/checkpoint", "get", AuditReadScope},
		{"/v1/audit/events", "get", AuditReadScope},
		{"/v1/audit/checkpoints", "get", AuditReadScope},
		{"/v1/admin/services", "post", ServicesAdminScope},
		{"/v1/admin/services/{id}/keys/{kid}", "delete", ServicesAdminScope},
		{"/v1/admin/projections", "get", "projections:admin"},
	} {
		if got := scopeOf(c.path, c.method); !slices.Equal(got, []any{c.scope}) {
			t.Errorf("%s %s: scopes %v, want %s", c.method, c.path, got, c.scope)
		}
	}
}

// problemTypesInSource finds every problem type the code can answer: the
// problemRules table and each NewProblem call with a literal type, here
// and in the wiring.
func problemTypesInSource(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, r := range problemRules {
		out[r.Type] = true
	}
	lit := regexp.MustCompile(`NewProblem\([^,]+,\s*"([a-z0-9-]+)"\s*,`)
	files, _ := filepath.Glob("*.go")
	wiring, _ := filepath.Glob("../cmd/authledger/*.go")
	for _, f := range append(files, wiring...) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range lit.FindAllStringSubmatch(string(src), -1) {
			out[m[1]] = true
		}
	}
	out["internal"] = true // problemFor's fallback
	return out
}

func TestOpenAPIAndDocsListEveryProblemType(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas struct {
				ProblemType struct {
					Types map[string]struct {
						Status int    `yaml:"status"`
						Title  string `yaml:"title"`
					} `yaml:"x-problem-types"`
					AnyOf []struct {
						Enum []string `yaml:"enum"`
					} `yaml:"anyOf"`
				} `yaml:"ProblemType"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		t.Fatal(err)
	}
	pt := doc.Components.Schemas.ProblemType
	inSource := problemTypesInSource(t)
	if len(inSource) < 10 {
		t.Fatalf("found only %d problem types in the source; is the test running in api/?", len(inSource))
	}
	for typ := range inSource {
		if _, ok := pt.Types[typ]; !ok {
			t.Errorf("problem type %s is answered but not in openapi.yaml x-problem-types", typ)
		}
	}
	for typ := range pt.Types {
		if !inSource[typ] {
			t.Errorf("openapi.yaml documents problem type %s that no code answers", typ)
		}
	}
	if len(pt.AnyOf) == 0 || !slices.Equal(slices.Sorted(mapKeys(pt.Types)), slices.Sorted(slices.Values(pt.AnyOf[0].Enum))) {
		t.Error("ProblemType's enum and x-problem-types differ")
	}
	for _, r := range problemRules {
		if d := pt.Types[r.Type]; d.Status != r.Status || d.Title != r.Title {
			t.Errorf("problem type %s: documented %d %q, problemRules say %d %q", r.Type, d.Status, d.Title, r.Status, r.Title)
		}
	}
	guide, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	for typ := range inSource {
		if !strings.Contains(string(guide), "`"+typ+"`") {
			t.Errorf("docs/api.md does not list problem type `%s`", typ)
		}
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestOpenAPIIsServedWithAnETag(t *testing.T) {
	o := mustOpenAPI(t)
	e := New(Config{}, o)
	for _, c := range []struct{ path, contentType string }{
		{"/openapi.json", "application/json"},
		{"/openapi.yaml", "application/yaml"},
	} {
		t.Run(c.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.path, nil))
			etag := rec.Header().Get("ETag")
			if rec.Code != http.StatusOK || etag == "" || !strings.HasPrefix(rec.Header().Get("Content-Type"), c.contentType) {
				t.Fatalf("GET %s: %d etag %q type %q", c.path, rec.Code, etag, rec.Header().Get("Content-Type"))
			}
			if !strings.Contains(rec.Header().Get("Cache-Control"), "max-age=") {
				t.Errorf("Cache-Control = %q", rec.Header().Get("Cache-Control"))
			}
			var v map[string]any
			if c.path == "/openapi.json" {
				if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
					t.Fatal(err)
				}
			} else if err := yaml.Unmarshal(rec.Body.Bytes(), &v); err != nil {
				t.Fatal(err)
			}
			if v["openapi"] == nil {
				t.Fatal("the body is not the OpenAPI document")
			}

			req := httptest.NewRequest(http.MethodGet, c.path, nil)
			req.Header.Set("If-None-Match", etag)
			rec = httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
				t.Fatalf("If-None-Match %s: %d with %d bytes", etag, rec.Code, rec.Body.Len())
			}

			req = httptest.NewRequest(http.MethodGet, c.path, nil)
			req.Header.Set("If-None-Match", `"stale"`)
			rec = httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("a stale ETag got %d", rec.Code)
			}
		})
	}
}

// docValidator compiles the document's schemas (JSON Schema 2020-12, the
// OpenAPI 3.1 dialect) and checks answers against the documented ones.
type docValidator struct {
	t   *testing.T
	doc map[string]any
	c   *jsonschema.Compiler
}

const docURL = "file:///authledger/openapi.json"

func newDocValidator(t *testing.T) *docValidator {
	t.Helper()
	raw, err := jsonschema.UnmarshalJSON(bytes.NewReader(mustOpenAPI(t).JSON()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(docURL, raw); err != nil {
		t.Fatal(err)
	}
	return &docValidator{t: t, doc: openAPIDoc(t), c: c}
}

func jsonPointerEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// check validates body against the schema documented for method, path and
// status; it fails when that status is not documented at all.
func (v *docValidator) check(method, path string, status int, contentType string, body []byte) {
	v.t.Helper()
	if err := v.validate(method, path, status, contentType, body); err != nil {
		v.t.Errorf("%s %s %d: %v\n%s", method, path, status, err, body)
	}
}

func (v *docValidator) validate(method, path string, status int, contentType string, body []byte) error {
	ptr := "#/paths/" + jsonPointerEscape(path) + "/" + strings.ToLower(method) + "/responses/" + strconv.Itoa(status)
	resp, ok := resolvePointer(v.doc, ptr)
	if !ok {
		return errors.New("status not documented")
	}
	if ref, ok := resp.(map[string]any)["$ref"].(string); ok {
		ptr = ref
		resp, _ = resolvePointer(v.doc, ref)
	}
	mt, _, _ := strings.Cut(contentType, ";")
	content, _ := resp.(map[string]any)["content"].(map[string]any)
	if _, ok := content[mt]; !ok {
		if len(body) > 0 {
			return fmt.Errorf("content type %q not documented", mt)
		}
		return nil
	}
	return v.validatePointer(ptr+"/content/"+jsonPointerEscape(mt)+"/schema", body)
}

func (v *docValidator) validatePointer(ptr string, body []byte) error {
	sch, err := v.c.Compile(docURL + ptr)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("body is not JSON: %w", err)
	}
	return sch.Validate(inst)
}

func TestOpenAPISchemasCompileAsJSONSchema(t *testing.T) {
	v := newDocValidator(t)
	n := 0
	var walk func(x any, ptr string)
	walk = func(x any, ptr string) {
		switch m := x.(type) {
		case map[string]any:
			for k, y := range m {
				p := ptr + "/" + jsonPointerEscape(k)
				if k == "schema" || ptr == "#/components/schemas" {
					if _, err := v.c.Compile(docURL + p); err != nil {
						t.Errorf("%s: %v", p, err)
					}
					n++
					continue
				}
				walk(y, p)
			}
		case []any:
			for i, y := range m {
				walk(y, ptr+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(v.doc, "#")
	if n < 50 {
		t.Fatalf("compiled only %d schemas", n)
	}
}

func TestOpenAPISchemasAcceptWhatTheCodeAnswers(t *testing.T) {
	v := newDocValidator(t)
	body := func(x any) []byte {
		b, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, r := range problemRules {
		if err := v.validatePointer("#/components/schemas/Problem", body(problemFor(r.Err))); err != nil {
			t.Errorf("problem for %v: %v", r.Err, err)
		}
	}
	p := badBody(FieldError{Field: "subject", Detail: "must be 1-255 characters"})
	v.check("POST", "/v1/sessions", 400, "application/problem+json", body(p))
	v.check("POST", "/oauth2/token", 401, "application/json", body(OAuthErrorBody{Error: "invalid_client"}))
	v.check("POST", "/oauth2/token", 200, "application/json", body(TokenResponse{AccessToken: "a", TokenType: "Bearer", ExpiresIn: 600, RefreshToken: "r"}))
	v.check("POST", "/v1/sessions", 201, "application/json", body(StartSessionResponse{SessionToken: "s", SessionID: "i", AccessToken: "a", RefreshToken: "r", TokenType: "Bearer", ExpiresIn: 600}))
	v.check("POST", "/v1/sessions/{id}/elevate", 200, "application/json", body(ElevateResponse{SessionID: "i", SessionToken: "s", ACR: "aal2"}))
	v.check("POST", "/v1/session/token", 200, "application/json", body(SessionTokenResponse{AccessToken: "a", TokenType: "Bearer", ExpiresIn: 600}))
	v.check("GET", "/v1/sessions", 200, "application/json", body(map[string]any{"sessions": []SessionView{{ID: "i", ClientID: "c", AMR: []string{"pwd"}, Current: true}}}))
	svc := ToServiceResponse(client.View{ID: "c1", Name: "billing", Secrets: []client.Secret{{ID: "s1", Hash: "never shown"}},
		Keys: []client.PublicKey{{KeyID: "k", KTY: "OKP", CRV: "Ed25519", X: "AAAA"}}})
	svc.ClientSecret = "once"
	v.check("POST", "/v1/admin/services", 201, "application/json", body(svc))
	v.check("GET", "/v1/admin/services", 200, "application/json", body(map[string]any{"services": []ServiceResponse{svc}}))
	v.check("GET", "/v1/admin/projections", 200, "application/json", body(map[string]any{"projections": []ProjectionInfo{
		{Name: "families", Kind: "sql", State: "rebuilding", Rebuild: &RebuildProgress{Done: 1, Total: 2}}}}))
	v.check("GET", "/.well-known/oauth-authorization-server", 200, "application/json", body(NewAuthServerMetadata("https://issuer.example")))

	// Answers of handlers that run without dependencies.
	e := New(Config{ReadyChecks: []ReadyCheck{{Name: "ledger", Check: func(context.Context) error { return errors.New("down") }}}},
		NewRevocations(emptyFeed{}), InfisicalWebhook{}, NewAdminProjections(projectionAdminStub{}, func(next echo.HandlerFunc) echo.HandlerFunc { return next }))
	for _, c := range []struct{ method, target, path string }{
		{"GET", "/healthz", "/healthz"},
		{"GET", "/readyz", "/readyz"},
		{"GET", "/v1/revocations?after=3", "/v1/revocations"},
		{"GET", "/v1/revocations?limit=0", "/v1/revocations"},
		{"GET", "/v1/admin/projections", "/v1/admin/projections"},
		{"POST", "/v1/admin/projections/families/rebuild", "/v1/admin/projections/{name}/rebuild"},
		{"POST", "/v1/webhooks/infisical", "/v1/webhooks/infisical"},
	} {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(c.method, c.target, nil))
		v.check(c.method, c.path, rec.Code, rec.Header().Get("Content-Type"), rec.Body.Bytes())
	}

	// A schema that accepted anything would pass all of the above.
	if v.validate("POST", "/oauth2/token", 200, "application/json", []byte(`{"access_token": 1}`)) == nil {
		t.Error("a token response without token_type and with a numeric access_token passed the schema")
	}
	if v.validate("GET", "/healthz", 418, "application/json", nil) == nil {
		t.Error("an undocumented status passed")
	}
}

type emptyFeed struct{}

func (emptyFeed) Since(context.Context, uint64, int, time.Duration) revocations.Page {
	return revocations.Page{Entries: []revocations.Entry{{Position: 4, Kind: revocations.KindJTI, ID: "j", Until: time.Now()}}, Cursor: 4}
}
