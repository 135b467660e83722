package api

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
	"gopkg.in/yaml.v3"
)

// openAPIYAML is the API's OpenAPI 3.1 document, written by hand next to
// the handlers; TestOpenAPIDocumentsEveryRoute keeps it equal to the routes.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// OpenAPI serves the embedded OpenAPI document at GET /openapi.yaml (the
// source) and GET /openapi.json (derived from it once, at construction).
type OpenAPI struct {
	yamlBody, jsonBody []byte
	yamlETag, jsonETag string
	paths              map[string][]string // OpenAPI path → upper-case methods
}

// NewOpenAPI parses the embedded document; an error means the binary was
// built with a broken document, which the package tests refuse first.
func NewOpenAPI() (*OpenAPI, error) {
	var doc any
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		return nil, fmt.Errorf("api: openapi.yaml: %w", err)
	}
	doc, err := jsonCompatible(doc)
	if err != nil {
		return nil, fmt.Errorf("api: openapi.yaml: %w", err)
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("api: openapi.yaml: %w", err)
	}
	paths, err := documentedOperations(doc)
	if err != nil {
		return nil, err
	}
	return &OpenAPI{yamlBody: openAPIYAML, jsonBody: body, yamlETag: strongETag(openAPIYAML), jsonETag: strongETag(body), paths: paths}, nil
}

// JSON returns the document as JSON.
func (o *OpenAPI) JSON() []byte { return bytes.Clone(o.jsonBody) }

// Register implements Routes.
func (o *OpenAPI) Register(e *echo.Echo) {
	e.GET("/openapi.json", o.serve(o.jsonBody, o.jsonETag, "application/json"))
	e.GET("/openapi.yaml", o.serve(o.yamlBody, o.yamlETag, "application/yaml"))
}

func (o *OpenAPI) serve(body []byte, etag, contentType string) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		setCORS(h)
		// The document changes only with the binary; a short max-age keeps
		// a rolling upgrade visible within minutes.
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("ETag", etag)
		if etagMatches(c.Request().Header.Get("If-None-Match"), etag) {
			return c.NoContent(http.StatusNotModified)
		}
		return c.Blob(http.StatusOK, contentType, body)
	}
}

func strongETag(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// jsonCompatible turns what yaml.v3 decodes into values encoding/json
// marshals, refusing non-string mapping keys (JSON has none).
func jsonCompatible(v any) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			y, err := jsonCompatible(x)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			t[k] = y
		}
		return t, nil
	case map[any]any:
		return nil, errors.New("mapping with a non-string key")
	case []any:
		for i, x := range t {
			y, err := jsonCompatible(x)
			if err != nil {
				return nil, err
			}
			t[i] = y
		}
		return t, nil
	}
	return v, nil
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func documentedOperations(doc any) (map[string][]string, error) {
	root, _ := doc.(map[string]any)
	paths, ok := root["paths"].(map[string]any)
	if !ok {
		return nil, errors.New("api: openapi.yaml: no paths object")
	}
	out := map[string][]string{}
	for p, item := range paths {
		ops, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("api: openapi.yaml: path %s is not an object", p)
		}
		for k := range ops {
			if slices.Contains(httpMethods, k) {
				out[p] = append(out[p], strings.ToUpper(k))
			}
		}
	}
	return out, nil
}

var echoParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// OpenAPIPath turns an Echo route path (/v1/sessions/:id) into its
// OpenAPI template (/v1/sessions/{id}).
func OpenAPIPath(echoPath string) string {
	return echoParam.ReplaceAllString(echoPath, "{$1}")
}

// CheckRoutes compares the document with a server's route table: every
// registered method and path must be documented and every documented one
// registered. Group catch-alls Echo adds for group middleware are not
// routes of the API.
func (o *OpenAPI) CheckRoutes(routes []*echo.Route) error {
	registered := map[string]bool{}
	for _, r := range routes {
		if r.Method == echo.RouteNotFound {
			continue
		}
		registered[r.Method+" "+OpenAPIPath(r.Path)] = true
	}
	documented := map[string]bool{}
	for p, ms := range o.paths {
		for _, m := range ms {
			documented[m+" "+p] = true
		}
	}
	var errs []error
	for _, k := range sortedKeys(registered) {
		if !documented[k] {
			errs = append(errs, fmt.Errorf("routed but not in openapi.yaml: %s", k))
		}
	}
	for _, k := range sortedKeys(documented) {
		if !registered[k] {
			errs = append(errs, fmt.Errorf("in openapi.yaml but not routed: %s", k))
		}
	}
	return errors.Join(errs...)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
