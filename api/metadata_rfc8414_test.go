package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/authledger/authledger/api"
)

// rfc8414Problems checks a metadata document against RFC 8414 §2 and §3.2,
// rule by rule, and returns every violation. It reads the JSON as served,
// not the Go struct, so a field dropped by a tag is caught.
func rfc8414Problems(doc map[string]any, issuer string) []string {
	var out []string
	bad := func(s string) { out = append(out, s) }
	str := func(k string) (string, bool) { v, ok := doc[k].(string); return v, ok }
	arr := func(k string) ([]string, bool) {
		raw, ok := doc[k].([]any)
		if !ok {
			return nil, false
		}
		var ss []string
		for _, v := range raw {
			s, ok := v.(string)
			if !ok || s == "" {
				bad(k + ": holds a value that is no non-empty string")
			}
			ss = append(ss, s)
		}
		return ss, true
	}
	// §2 issuer: REQUIRED, https, no query or fragment; §3.2 identical to
	// the issuer the metadata was fetched for.
	iss, ok := str("issuer")
	if !ok {
		bad("issuer: missing")
	} else if u, err := url.Parse(iss); err != nil || u.Scheme != "https" || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		bad("issuer: not an https URL without query and fragment: " + iss)
	} else if iss != issuer {
		bad("issuer: " + iss + " is not the issuer asked for, " + issuer)
	}
	// Every endpoint is an absolute https URL.
	for k, v := range doc {
		if s, ok := v.(string); ok && (strings.HasSuffix(k, "_endpoint") || k == "jwks_uri" || k == "registration_endpoint" || k == "service_documentation") {
			if u, err := url.Parse(s); err != nil || u.Scheme != "https" || u.Host == "" || u.Fragment != "" {
				bad(k + ": not an absolute https URL: " + s)
			}
		}
	}
	grants, ok := arr("grant_types_supported")
	if !ok {
		// Omitted means ["authorization_code", "implicit"], which needs an
		// authorization endpoint.
		grants = []string{"authorization_code", "implicit"}
	}
	// authorization_endpoint: REQUIRED unless no grant type uses it.
	_, hasAuthz := str("authorization_endpoint")
	if needs := slices.Contains(grants, "authorization_code") || slices.Contains(grants, "implicit"); needs != hasAuthz {
		bad("authorization_endpoint: present or absent against grant_types_supported")
	}
	// token_endpoint: REQUIRED unless only the implicit grant is supported.
	if _, ok := str("token_endpoint"); !ok && !(len(grants) == 1 && grants[0] == "implicit") {
		bad("token_endpoint: missing")
	}
	// response_types_supported: REQUIRED.
	if _, ok := arr("response_types_supported"); !ok {
		bad("response_types_supported: missing")
	}
	// For each endpoint that lists private_key_jwt or client_secret_jwt,
	// its *_auth_signing_alg_values_supported MUST be present, non-empty,
	// without "none". The token endpoint's methods default to
	// client_secret_basic; revocation and introspection likewise.
	for _, ep := range []string{"token_endpoint", "revocation_endpoint", "introspection_endpoint"} {
		if _, ok := str(ep); !ok {
			if _, listed := doc[ep+"_auth_methods_supported"]; listed {
				bad(ep + "_auth_methods_supported: listed without the endpoint")
			}
			continue
		}
		methods, _ := arr(ep + "_auth_methods_supported")
		if slices.Contains(methods, "private_key_jwt") || slices.Contains(methods, "client_secret_jwt") {
			algs, ok := arr(ep + "_auth_signing_alg_values_supported")
			if !ok || len(algs) == 0 {
				bad(ep + "_auth_signing_alg_values_supported: missing though a JWT method is listed")
			}
			if slices.Contains(algs, "none") {
				bad(ep + `_auth_signing_alg_values_supported: "none" MUST NOT be used`)
			}
		}
	}
	// §3.2: members with zero elements are omitted — except
	// response_types_supported, which §2 makes REQUIRED (the conflict is
	// documented in api/metadata.go).
	for k, v := range doc {
		if a, ok := v.([]any); ok && len(a) == 0 && k != "response_types_supported" {
			bad(k + ": an empty array, which §3.2 says to omit")
		}
	}
	return out
}

func TestMetadataFollowsRFC8414(t *testing.T) {
	const issuer = "https://auth.example"
	e := api.New(api.Config{}, api.Metadata{Document: api.NewAuthServerMetadata(issuer)})
	get := func(path string) []byte {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Header().Get("Content-Type"))
		}
		return rec.Body.Bytes()
	}
	body := get("/.well-known/oauth-authorization-server")
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range rfc8414Problems(doc, issuer) {
		t.Error(p)
	}
	// Not an OpenID Provider: the OIDC path answers exactly this document,
	// and nothing in it claims OpenID features.
	if oidc := get("/.well-known/openid-configuration"); !bytes.Equal(oidc, body) {
		t.Errorf("openid-configuration differs from the RFC 8414 document:\n%s\n%s", oidc, body)
	}
	for _, k := range []string{"userinfo_endpoint", "id_token_signing_alg_values_supported", "subject_types_supported", "authorization_endpoint"} {
		if _, ok := doc[k]; ok {
			t.Errorf("advertises %s, which authledger does not do", k)
		}
	}
	// DPoP is accepted (RFC 9449 §5.1), so its algorithms are listed.
	if algs, ok := doc["dpop_signing_alg_values_supported"].([]any); !ok || len(algs) == 0 {
		t.Errorf("dpop_signing_alg_values_supported = %v, want the accepted algorithms", doc["dpop_signing_alg_values_supported"])
	}
}

// The checker itself catches what the issue saw: private_key_jwt listed
// without the endpoint's signing algorithms.
func TestTheRFC8414CheckCatchesAMissingSigningAlgList(t *testing.T) {
	doc := map[string]any{
		"issuer": "https://auth.example", "token_endpoint": "https://auth.example/oauth2/token",
		"introspection_endpoint": "https://auth.example/oauth2/introspect", "grant_types_supported": []any{"client_credentials"},
		"response_types_supported": []any{}, "token_endpoint_auth_methods_supported": []any{"private_key_jwt"},
		"token_endpoint_auth_signing_alg_values_supported": []any{"EdDSA"},
		"introspection_endpoint_auth_methods_supported":    []any{"private_key_jwt"},
		"scopes_supported": []any{},
	}
	got := strings.Join(rfc8414Problems(doc, "https://auth.example"), "\n")
	for _, want := range []string{"introspection_endpoint_auth_signing_alg_values_supported: missing", "scopes_supported: an empty array"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in:\n%s", want, got)
		}
	}
	doc["grant_types_supported"] = []any{"authorization_code"}
	if got := strings.Join(rfc8414Problems(doc, "https://other.example"), "\n"); !strings.Contains(got, "authorization_endpoint") || !strings.Contains(got, "not the issuer asked for") {
		t.Errorf("a code grant without authorization endpoint, or a wrong issuer, passed:\n%s", got)
	}
}
