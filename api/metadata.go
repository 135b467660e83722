package api

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// AuthServerMetadata is the RFC 8414 §2 document. It lists only what
// authledger does: no authorization endpoint (no grant uses one), no DPoP,
// no token exchange. The same bytes answer /.well-known/openid-configuration
// (RFC 8414 §5 lets an OAuth server publish there), because authledger is
// no OpenID Provider — it issues no ID tokens and has no authorization or
// userinfo endpoint — so the keys OpenID Connect Discovery 1.0 §3 requires
// (authorization_endpoint, subject_types_supported,
// id_token_signing_alg_values_supported) could only be false.
// docs/api.md, "Discovery", says so for client authors.
type AuthServerMetadata struct {
	Issuer                                     string   `json:"issuer"`
	JWKSURI                                    string   `json:"jwks_uri"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported"`
	// RFC 8414 §2: present whenever private_key_jwt is among the
	// endpoint's methods, as it is for each endpoint here.
	RevocationEndpointAuthSigningAlgValuesSupported    []string `json:"revocation_endpoint_auth_signing_alg_values_supported"`
	IntrospectionEndpointAuthMethodsSupported          []string `json:"introspection_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthSigningAlgValuesSupported []string `json:"introspection_endpoint_auth_signing_alg_values_supported"`
	ScopesSupported                                    []string `json:"scopes_supported,omitempty"`
	ServiceDocumentation                               string   `json:"service_documentation,omitempty"`
	// DPoPSigningAlgValuesSupported: RFC 9449 §5.1.
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported"`
}

// NewAuthServerMetadata derives the document from the issuer URL.
func NewAuthServerMetadata(issuer string) AuthServerMetadata {
	base := strings.TrimRight(issuer, "/")
	// One client authenticator serves the token, revocation and
	// introspection endpoints, so they share methods and algorithms.
	auth := []string{"client_secret_basic", "client_secret_post", "private_key_jwt"}
	// Both names: RFC 8037 "EdDSA" and the fully-specified "Ed25519" of
	// RFC 9864, which private_key_jwt accepts as well.
	algs := []string{"EdDSA", "Ed25519"}
	return AuthServerMetadata{
		Issuer:                issuer,
		JWKSURI:               base + JWKSPath,
		TokenEndpoint:         base + "/oauth2/token",
		RevocationEndpoint:    base + "/oauth2/revoke",
		IntrospectionEndpoint: base + "/oauth2/introspect",
		GrantTypesSupported:   []string{"client_credentials", "refresh_token"},
		// REQUIRED by RFC 8414 §2 yet empty: no grant here has a response
		// type. §3.2 would omit an empty array, but omitting a REQUIRED
		// member fails more validators than an empty one.
		ResponseTypesSupported:                             []string{},
		TokenEndpointAuthMethodsSupported:                  auth,
		TokenEndpointAuthSigningAlgValuesSupported:         algs,
		RevocationEndpointAuthMethodsSupported:             auth,
		RevocationEndpointAuthSigningAlgValuesSupported:    algs,
		IntrospectionEndpointAuthMethodsSupported:          auth,
		IntrospectionEndpointAuthSigningAlgValuesSupported: algs,
		DPoPSigningAlgValuesSupported:                      DPoPAlgs,
	}
}

// Metadata serves RFC 8414 metadata at both well-known paths.
type Metadata struct {
	Document AuthServerMetadata
}

// Register implements Routes.
func (m Metadata) Register(e *echo.Echo) {
	body, _ := json.Marshal(m.Document) // strings and string slices always marshal
	serve := func(c echo.Context) error {
		setCORS(c.Response().Header())
		c.Response().Header().Set("Cache-Control", "public, max-age=3600")
		return c.Blob(http.StatusOK, "application/json", body)
	}
	for _, p := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		e.GET(p, serve)
		e.OPTIONS(p, preflight)
	}
}
