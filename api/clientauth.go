package api

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/oauth"
)

// AuthenticatedClient is a client that proved its identity on this request.
type AuthenticatedClient = commands.AuthenticatedClient

// ClientAuthenticator authenticates clients at /oauth2/token,
// /oauth2/introspect and /oauth2/revoke: client_secret_basic (RFC 6749
// §2.3.1), client_secret_post and private_key_jwt (RFC 7523 §2.2), exactly
// one per request, with the rate limits of DESIGN.md §5, both settled after
// the credentials are checked: a failure spends the failure budgets of the
// caller's (client id, address) and address, a success the client's
// request budget. A correct authentication never meets a failure budget.
type ClientAuthenticator struct {
	auth    *commands.ClientAuthenticator
	limits  RateLimiter            // nil: no limits
	results *prometheus.CounterVec // nil until Instrument
	now     func() time.Time       // the limiters' clock; tests pin it
}

// NewClientAuthenticator wraps the command-side checks with HTTP parsing and
// rate limits; limits may be nil (no limits: tests and benchmarks only).
func NewClientAuthenticator(auth *commands.ClientAuthenticator, limits RateLimiter) *ClientAuthenticator {
	return &ClientAuthenticator{auth: auth, limits: limits, now: time.Now}
}

// Instrument counts authentications by method and result
// (authledger_client_authentications_total) on reg. Call it once, at wiring.
func (a *ClientAuthenticator) Instrument(reg prometheus.Registerer) error {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authledger_client_authentications_total",
		Help: "Client authentications at the OAuth endpoints by method and result (ok, invalid_client, rate_limited, invalid_request, error).",
	}, []string{"method", "result"})
	if err := reg.Register(c); err != nil {
		return err
	}
	a.results = c
	return nil
}

func (a *ClientAuthenticator) count(method commands.AuthMethod, result string) {
	if a.results != nil {
		if method == "" {
			method = "none"
		}
		a.results.WithLabelValues(string(method), result).Inc()
	}
}

// Authenticate reads the client's credentials from the request (Basic
// header or form body; the body must be form-urlencoded and is parsed
// here) and checks them. Every failure is oauth.ErrInvalidClient (401,
// WWW-Authenticate) except a request carrying several methods
// (invalid_request) and rate limiting (slow_down, 429): a failure past
// its failure budget, or a client past its request budget.
func (a *ClientAuthenticator) Authenticate(c echo.Context) (AuthenticatedClient, error) {
	req := c.Request()
	if err := parseOAuthForm(req); err != nil {
		return AuthenticatedClient{}, err
	}
	cred, err := credentialsFrom(req)
	if err != nil {
		a.count(cred.Method, oauthCode(err))
		return AuthenticatedClient{}, err
	}
	// The credentials are checked first, whatever the failure budgets say:
	// client ids are public, so a budget consulted before the check would
	// let anyone lock a client out by failing in its name (issue 10).
	ac, err := a.auth.Authenticate(req.Context(), cred)
	if err != nil {
		// Only invalid_client is a failed authentication; an internal
		// error (the directory failed, say) is not the caller's fault.
		if a.limits != nil && isInvalidClient(err) {
			if wait, ok := a.limits.ChargeFailure(req.Context(), cred.ClientID, sourceAddress(c), a.now()); !ok {
				a.count(cred.Method, "rate_limited")
				return AuthenticatedClient{}, slowDown(c, wait)
			}
		}
		a.count(cred.Method, oauthCode(err))
		return AuthenticatedClient{}, err
	}
	if a.limits != nil {
		if wait, ok := a.limits.SpendClass(req.Context(), string(ac.ID), limitClass(req.URL.Path), a.now()); !ok {
			a.count(cred.Method, "rate_limited")
			return AuthenticatedClient{}, slowDown(c, wait)
		}
	}
	a.count(cred.Method, "ok")
	c.Set(accessClientKey, string(ac.ID))
	return ac, nil
}

func oauthCode(err error) string {
	if oe, ok := err.(*oauth.Error); ok {
		switch oe.Code {
		case oauth.ErrInvalidClient.Code, oauth.ErrInvalidRequest.Code:
			return oe.Code
		}
	}
	return "error"
}

func isInvalidClient(err error) bool {
	oe, ok := err.(*oauth.Error)
	return ok && oe.Code == oauth.ErrInvalidClient.Code
}

func slowDown(c echo.Context, wait time.Duration) error {
	c.Response().Header().Set("Retry-After", retryAfter(wait))
	return oauth.ErrSlowDown.WithHint("too many requests; retry later")
}

// MaxOAuthFormBytes bounds an OAuth request body.
const MaxOAuthFormBytes = 16 << 10

// parseOAuthForm requires application/x-www-form-urlencoded (RFC 6749
// §3.2) and refuses repeated parameters (§3.1), except the RFC 8707
// resource and our audience, which may repeat.
func parseOAuthForm(req *http.Request) error {
	if req.PostForm != nil {
		return nil // already parsed and checked by an earlier call
	}
	ct := req.Header.Get(echo.HeaderContentType)
	if mt, _, _ := strings.Cut(ct, ";"); !strings.EqualFold(strings.TrimSpace(mt), echo.MIMEApplicationForm) {
		return oauth.ErrInvalidRequest.WithHint("content type must be application/x-www-form-urlencoded")
	}
	req.Body = http.MaxBytesReader(nil, req.Body, MaxOAuthFormBytes)
	if err := req.ParseForm(); err != nil {
		return oauth.ErrInvalidRequest.WithHint("malformed form body")
	}
	for k, vs := range req.PostForm {
		if len(vs) > 1 && k != "resource" && k != "audience" {
			return oauth.ErrInvalidRequest.WithHint("parameter " + k + " repeated")
		}
	}
	return nil
}

func credentialsFrom(req *http.Request) (commands.ClientCredentials, error) {
	form := req.PostForm
	var methods []commands.ClientCredentials
	if h := req.Header.Get(echo.HeaderAuthorization); h != "" {
		scheme, rest, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Basic") {
			return commands.ClientCredentials{}, oauth.ErrInvalidClient.WithDebug("unsupported authorization scheme")
		}
		id, secret, ok := parseBasic(strings.TrimSpace(rest))
		if !ok {
			return commands.ClientCredentials{}, oauth.ErrInvalidClient.WithDebug("malformed basic credentials")
		}
		methods = append(methods, commands.ClientCredentials{Method: commands.AuthSecretBasic, ClientID: id, Secret: secret})
	}
	if _, ok := form["client_secret"]; ok {
		methods = append(methods, commands.ClientCredentials{Method: commands.AuthSecretPost, ClientID: form.Get("client_id"), Secret: form.Get("client_secret")})
	}
	_, hasType := form["client_assertion_type"]
	_, hasAssertion := form["client_assertion"]
	if hasType || hasAssertion {
		if form.Get("client_assertion_type") != commands.ClientAssertionType {
			return commands.ClientCredentials{}, oauth.ErrInvalidClient.WithDebug("unsupported client_assertion_type")
		}
		methods = append(methods, commands.ClientCredentials{Method: commands.AuthPrivateKeyJWT, ClientID: form.Get("client_id"), Assertion: form.Get("client_assertion")})
		if methods[len(methods)-1].ClientID == "" {
			// client_id is optional with an assertion (RFC 7523 §3); the
			// unverified sub names the client for rate limiting only, and
			// authentication checks it against the signature.
			methods[len(methods)-1].ClientID = assertionSubject(form.Get("client_assertion"))
		}
	}
	switch len(methods) {
	case 0:
		return commands.ClientCredentials{}, oauth.ErrInvalidClient.WithDebug("no client authentication")
	case 1:
	default:
		return commands.ClientCredentials{}, oauth.ErrInvalidRequest.WithHint("use exactly one client authentication method")
	}
	cred := methods[0]
	if id := form.Get("client_id"); cred.Method == commands.AuthSecretBasic && id != "" && id != cred.ClientID {
		return commands.ClientCredentials{}, oauth.ErrInvalidRequest.WithHint("client_id differs from the authenticated client")
	}
	return cred, nil
}

// assertionSubject returns the sub of a compact JWS without verifying it,
// or "" when it cannot be read.
func assertionSubject(raw string) string {
	if len(raw) > commands.MaxAssertionBytes {
		return ""
	}
	parts := strings.SplitN(raw, ".", 3)
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var p struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(b, &p) != nil || len(p.Sub) > 256 {
		return ""
	}
	return p.Sub
}

// parseBasic decodes RFC 6749 §2.3.1 Basic credentials: the id and secret
// are each form-urlencoded before being joined with ':' and base64ed.
func parseBasic(b64 string) (id, secret string, ok bool) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", "", false
	}
	u, p, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", false
	}
	if id, err = url.QueryUnescape(u); err != nil {
		return "", "", false
	}
	if secret, err = url.QueryUnescape(p); err != nil {
		return "", "", false
	}
	if id == "" {
		return "", "", false
	}
	return id, secret, true
}

// BearerRequestLimit is the per-client request limit for bearer-authenticated
// /v1 requests (api.BearerRequestLimit); without limits it does nothing.
func (a *ClientAuthenticator) BearerRequestLimit(v BearerVerifier) echo.MiddlewareFunc {
	if a.limits == nil {
		return func(next echo.HandlerFunc) echo.HandlerFunc { return next }
	}
	return BearerRequestLimit(a.limits, v)
}
