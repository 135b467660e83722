package api

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// AuthServerMetadata is the RFC 8414 §2 document, also served at the
// OpenID discovery path for clients that only know that one.
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
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported"`
	ScopesSupported                            []string `json:"scopes_supported,omitempty"`
	ServiceDocumentation                       string   `json:"service_documentation,omitempty"`
	// DPoPSigningAlgValuesSupported: RFC 9449 §5.1.
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported"`
}

// NewAuthServerMetadata derives the document from the issuer URL.
func NewAuthServerMetadata(issuer string) AuthServerMetadata {
	base := strings.TrimRight(issuer, "/")
	auth := []string{"client_secret_basic", "client_secret_post", "private_key_jwt"}
	return AuthServerMetadata{
		Issuer:                            issuer,
		JWKSURI:                           base + JWKSPath,
		TokenEndpoint:                     base + "/oauth2/token",
		RevocationEndpoint:                base + "/oauth2/revoke",
		IntrospectionEndpoint:             base + "/oauth2/introspect",
		GrantTypesSupported:               []string{"client_credentials", "refresh_token"},
		ResponseTypesSupported:            []string{},
		TokenEndpointAuthMethodsSupported: auth,
		// Both names: RFC 8037 "EdDSA" and the fully-specified "Ed25519" of
		// RFC 9864, which private_key_jwt accepts as well.
		TokenEndpointAuthSigningAlgValuesSupported: []string{"EdDSA", "Ed25519"},
		RevocationEndpointAuthMethodsSupported:     auth,
		IntrospectionEndpointAuthMethodsSupported:  auth,
		DPoPSigningAlgValuesSupported:              DPoPAlgs,
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
