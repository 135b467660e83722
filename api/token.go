package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/oauth"
)

// Grant handles one grant_type at POST /oauth2/token for an authenticated
// client. The form is already parsed (c.Request().PostForm). Other features
// add their grants at wiring time with TokenEndpoint.AddGrant.
type Grant interface {
	GrantType() string
	Handle(c echo.Context, client AuthenticatedClient) error
}

// TokenEndpoint is POST /oauth2/token (RFC 6749 §3.2).
type TokenEndpoint struct {
	auth   *ClientAuthenticator
	mu     sync.RWMutex
	grants map[string]Grant
	// dpop checks DPoP proofs (RFC 9449 §5) against uri, the endpoint's
	// public URI; nil refuses every proof.
	dpop   DPoPChecker
	nonces DPoPNonces
	uri    string
}

// WithDPoP makes the endpoint accept DPoP proofs; issuer is the public
// base URL that a proof's htu names; nonces serve the clients registered
// with dpop_nonce_required (nil: such clients are refused).
func (t *TokenEndpoint) WithDPoP(checker DPoPChecker, nonces DPoPNonces, issuer string) *TokenEndpoint {
	t.dpop, t.nonces, t.uri = checker, nonces, strings.TrimRight(issuer, "/")+"/oauth2/token"
	return t
}

// DPoPKey is the thumbprint of the token request's valid DPoP proof, ""
// when it carried none; grants bind what they issue to it.
func DPoPKey(c echo.Context) string {
	s, _ := c.Get(dpopCtxKey).(string)
	return s
}

const dpopCtxKey = "authledger.dpop.jkt"

// tokenType is RFC 9449 §5.1's token_type: DPoP for a bound token.
func tokenType(jkt string) string {
	if jkt != "" {
		return "DPoP"
	}
	return "Bearer"
}

// NewTokenEndpoint returns the endpoint with the given grants.
func NewTokenEndpoint(auth *ClientAuthenticator, grants ...Grant) (*TokenEndpoint, error) {
	t := &TokenEndpoint{auth: auth, grants: map[string]Grant{}}
	for _, g := range grants {
		if err := t.AddGrant(g); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// AddGrant registers a grant; a grant type can be registered once.
func (t *TokenEndpoint) AddGrant(g Grant) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, dup := t.grants[g.GrantType()]; dup {
		return fmt.Errorf("api: grant type %q registered twice", g.GrantType())
	}
	t.grants[g.GrantType()] = g
	return nil
}

// Register implements Routes.
func (t *TokenEndpoint) Register(e *echo.Echo) { e.POST("/oauth2/token", t.handle) }

func (t *TokenEndpoint) handle(c echo.Context) error {
	req := c.Request()
	if err := parseOAuthForm(req); err != nil {
		return err
	}
	gt := req.PostForm.Get("grant_type")
	if gt == "" {
		return oauth.ErrInvalidRequest.WithHint("grant_type is required")
	}
	cl, err := t.auth.Authenticate(c)
	if err != nil {
		return err
	}
	jkt, err := tokenEndpointProof(c, t.dpop, t.nonces, t.uri, cl.Client.DPoPNonce)
	if err != nil {
		return err
	}
	if err := cl.Client.CheckDPoP(jkt); err != nil { // dpop_bound_access_tokens, every grant
		return oauth.ErrInvalidDPoPProof.WithHint("this client must send a DPoP proof").WithDebug(err.Error())
	}
	c.Set(dpopCtxKey, jkt)
	t.mu.RLock()
	g := t.grants[gt]
	t.mu.RUnlock()
	if g == nil {
		return oauth.ErrUnsupportedGrantType
	}
	// The grant's span, under the HTTP one: its commands, ledger appends
	// and Redis calls nest below it.
	ctx, span := tracer.Start(c.Request().Context(), "oauth2.token "+gt,
		trace.WithAttributes(attribute.String("oauth.grant_type", gt), attribute.String("oauth.client_id", string(cl.ID))))
	defer span.End()
	c.SetRequest(c.Request().WithContext(ctx))
	err = g.Handle(c, cl)
	if err != nil {
		span.SetStatus(codes.Error, errorCode(err))
	}
	return err
}

// TokenResponse is the RFC 6749 §5.1 success body.
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// WriteTokenResponse answers a token request; tokens are never cached
// (RFC 6749 §5.1).
func WriteTokenResponse(c echo.Context, r TokenResponse) error {
	noStore(c)
	return c.JSON(http.StatusOK, r)
}

// RequestMetadata is the event metadata of a request: its request id as
// correlation id. It never holds credentials.
func RequestMetadata(c echo.Context) commands.Metadata {
	rid := c.Response().Header().Get(echo.HeaderXRequestID)
	return commands.Metadata{RequestID: rid, CorrelationID: rid}
}

// ClientCredentialsGrant is grant_type=client_credentials (RFC 6749 §4.4).
type ClientCredentialsGrant struct {
	issue M2MIssuer
}

// NewClientCredentialsGrant wraps the command.
func NewClientCredentialsGrant(issue M2MIssuer) *ClientCredentialsGrant {
	return &ClientCredentialsGrant{issue: issue}
}

// GrantType implements Grant.
func (*ClientCredentialsGrant) GrantType() string { return "client_credentials" }

// Handle implements Grant.
func (g *ClientCredentialsGrant) Handle(c echo.Context, cl AuthenticatedClient) error {
	form := c.Request().PostForm
	auds, err := requestedAudiences(form)
	if err != nil {
		return err
	}
	out, err := g.issue.Issue(c.Request().Context(), commands.IssueClientCredentials{
		Client:    cl,
		Scopes:    strings.Fields(form.Get("scope")),
		Audiences: auds,
		JKT:       DPoPKey(c),
	}, RequestMetadata(c))
	if err != nil {
		return err
	}
	return WriteTokenResponse(c, TokenResponse{
		AccessToken: out.Raw,
		TokenType:   tokenType(out.JKT),
		ExpiresIn:   int64(out.ExpiresAt.Sub(out.IssuedAt).Round(time.Second) / time.Second),
		Scope:       strings.Join(out.Scopes, " "),
	})
}

// requestedAudiences merges RFC 8707 resource parameters (absolute URIs
// without fragment, §2) and audience parameters (space-separated).
func requestedAudiences(form url.Values) ([]string, error) {
	var out []string
	for _, r := range form["resource"] {
		u, err := url.Parse(r)
		if err != nil || !u.IsAbs() || u.Fragment != "" {
			return nil, oauth.ErrInvalidTarget.WithHint("resource must be an absolute URI without fragment")
		}
		out = append(out, r)
	}
	for _, a := range form["audience"] {
		out = append(out, strings.Fields(a)...)
	}
	return out, nil
}
