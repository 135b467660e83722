package login

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/oauth"
)

// RFC 8693 §3 token type identifiers.
const (
	GrantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	TokenTypeIDToken   = "urn:ietf:params:oauth:token-type:id_token"
	TokenTypeAccess    = "urn:ietf:params:oauth:token-type:access_token"
)

// Provider is one configured upstream OpenID provider.
type Provider struct {
	// Name is the local name: /login/oidc/<name> and the upstream-<name>
	// ledger stream. Lower-case letters, digits and '-'.
	Name string `json:"name"`
	// Issuer is the upstream's issuer URL; its discovery document and
	// JWKS are fetched from it (go-oidc).
	Issuer string `json:"issuer"`
	// Audiences are the aud values an exchanged ID token may carry (the
	// client ids the upstream issued them to). At least one.
	Audiences []string `json:"audiences"`
	// Algorithms are the allowed signing algorithms (default RS256, ES256,
	// EdDSA); "none" and HMAC are never allowed.
	Algorithms []string `json:"algorithms,omitempty"`
	// SubjectClaim is the claim that becomes our subject (default "sub"),
	// after SubjectPrefix, so upstream subjects cannot collide with local
	// ones (e.g. "corp:").
	SubjectClaim  string `json:"subject_claim,omitempty"`
	SubjectPrefix string `json:"subject_prefix"`
	// Clients are the service clients allowed to exchange this provider's
	// ID tokens (RFC 8693); empty allows none.
	Clients []string `json:"clients,omitempty"`
	// ClientID and ClientSecret are authledger's own client at the
	// upstream, for the browser flow /login/oidc/<name> (authorization
	// code + PKCE). Without ClientID the browser flow is off. The secret
	// is read from the environment variable ClientSecretEnv, never from
	// the file.
	ClientID        string `json:"client_id,omitempty"`
	ClientSecretEnv string `json:"client_secret_env,omitempty"`
	clientSecret    string
}

var defaultAlgorithms = []string{oidc.RS256, oidc.ES256, oidc.EdDSA}

// Check validates p and fills its defaults; lookupEnv reads the browser
// client's secret.
func (p *Provider) Check(lookupEnv func(string) (string, bool)) error {
	var errs []error
	if p.Name == "" || strings.Trim(p.Name, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" || len(p.Name) > 32 {
		errs = append(errs, fmt.Errorf("name %q must be 1-32 of a-z, 0-9 and -", p.Name))
	}
	if u, err := url.Parse(p.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("%s: issuer %q is not a URL", p.Name, p.Issuer))
	}
	if len(p.Audiences) == 0 && p.ClientID == "" {
		errs = append(errs, fmt.Errorf("%s: audiences (or client_id) required", p.Name))
	}
	if p.ClientID != "" && !slices.Contains(p.Audiences, p.ClientID) {
		p.Audiences = append(p.Audiences, p.ClientID)
	}
	if len(p.Algorithms) == 0 {
		p.Algorithms = slices.Clone(defaultAlgorithms)
	}
	for _, a := range p.Algorithms {
		if a == "none" || strings.HasPrefix(a, "HS") {
			errs = append(errs, fmt.Errorf("%s: algorithm %q is never allowed", p.Name, a))
		}
	}
	if p.SubjectClaim == "" {
		p.SubjectClaim = "sub"
	}
	if p.ClientSecretEnv != "" {
		v, ok := lookupEnv(p.ClientSecretEnv)
		if !ok || v == "" {
			errs = append(errs, fmt.Errorf("%s: %s is not set", p.Name, p.ClientSecretEnv))
		}
		p.clientSecret = v
	}
	return errors.Join(errs...)
}

// upstreamProvider is a Provider with its lazily discovered go-oidc
// provider: start-up must not fail because an upstream is down, and a
// failed discovery is tried again on the next request.
type upstreamProvider struct {
	Provider
	client *http.Client
	mu     sync.Mutex
	oidc   *oidc.Provider
}

func (u *upstreamProvider) discover(_ context.Context) (*oidc.Provider, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.oidc != nil {
		return u.oidc, nil
	}
	// The key set go-oidc keeps fetches with this context's client for as
	// long as the provider lives, so it must not be the request's.
	p, err := oidc.NewProvider(oidc.ClientContext(context.Background(), u.client), u.Issuer)
	if err != nil {
		return nil, err
	}
	u.oidc = p
	return p, nil
}

// ReplayGuard claims a key once until a time (replayguard).
type ReplayGuard interface {
	Claim(ctx context.Context, key string, until time.Time) (bool, error)
}

// Upstreams verifies upstream ID tokens: the RFC 8693 grant and the
// browser flow share it.
type Upstreams struct {
	providers []*upstreamProvider
	signIn    *commands.UpstreamSignInHandler
	replay    ReplayGuard
	now       func() time.Time
}

// NewUpstreams builds the verifier of providers (each already Checked).
// client fetches discovery documents and JWKS (nil: 10 s timeout).
func NewUpstreams(providers []Provider, signIn *commands.UpstreamSignInHandler, replay ReplayGuard, client *http.Client, now func() time.Time) (*Upstreams, error) {
	if signIn == nil || replay == nil {
		return nil, errors.New("login: upstreams need the sign-in handler and a replay guard")
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	if now == nil {
		now = time.Now
	}
	u := &Upstreams{signIn: signIn, replay: replay, now: now}
	seen := map[string]bool{}
	for _, p := range providers {
		if seen[p.Name] {
			return nil, fmt.Errorf("login: upstream %q configured twice", p.Name)
		}
		seen[p.Name] = true
		u.providers = append(u.providers, &upstreamProvider{Provider: p, client: client})
	}
	return u, nil
}

func (u *Upstreams) byName(name string) *upstreamProvider {
	for _, p := range u.providers {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// errRefused is a verification failure with the reason to record.
type errRefused struct{ reason, hint string }

func (e *errRefused) Error() string { return "login: upstream ID token refused: " + e.reason }

// unverifiedIssuer reads iss from a compact JWS without verifying it, to
// choose the provider whose keys will verify it. It refuses an
// algorithm outside every allow-list (alg none included) up front.
func unverifiedIssuer(raw string, algs []jose.SignatureAlgorithm) (string, error) {
	jws, err := jose.ParseSignedCompact(raw, algs)
	if err != nil {
		return "", &errRefused{reason: "algorithm", hint: "the subject_token is not a JWS signed with an allowed algorithm"}
	}
	var claims struct {
		Issuer string `json:"iss"`
	}
	if err := jsonUnmarshal(jws.UnsafePayloadWithoutVerification(), &claims); err != nil || claims.Issuer == "" {
		return "", &errRefused{reason: "claims", hint: "the subject_token has no issuer"}
	}
	return claims.Issuer, nil
}

func (u *Upstreams) allAlgorithms() []jose.SignatureAlgorithm {
	var out []jose.SignatureAlgorithm
	for _, p := range u.providers {
		for _, a := range p.Algorithms {
			if !slices.Contains(out, jose.SignatureAlgorithm(a)) {
				out = append(out, jose.SignatureAlgorithm(a))
			}
		}
	}
	return out
}

// verified is an accepted upstream ID token.
type verified struct {
	provider        *upstreamProvider
	upstreamSubject string
	subject         string
	amr             []string
	nonce           string
}

// verify checks raw against provider p (go-oidc: signature with the
// discovered JWKS, iss, aud, exp, the algorithm allow-list), refuses a
// replay, and maps the subject.
func (u *Upstreams) verify(ctx context.Context, p *upstreamProvider, raw string) (verified, error) {
	op, err := p.discover(ctx)
	if err != nil {
		return verified{}, fmt.Errorf("%w: upstream %s discovery: %w", errUpstreamUnavailable, p.Name, err)
	}
	var idt *oidc.IDToken
	for _, aud := range p.Audiences {
		v := op.Verifier(&oidc.Config{ClientID: aud, SupportedSigningAlgs: p.Algorithms, Now: u.now})
		idt, err = v.Verify(ctx, raw)
		if err == nil || !strings.Contains(err.Error(), "expected audience") {
			break
		}
	}
	if err != nil {
		return verified{}, &errRefused{reason: refusalReason(err), hint: "the subject_token could not be verified"}
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return verified{}, &errRefused{reason: "claims", hint: "the subject_token's claims are not readable"}
	}
	sub, _ := claims[p.SubjectClaim].(string)
	if sub == "" {
		return verified{}, &errRefused{reason: "claims", hint: "the subject_token lacks the mapped subject claim"}
	}
	// Replays are refused: an ID token is exchanged once (docs/login.md).
	sum := sha256.Sum256([]byte(raw))
	ok, err := u.replay.Claim(ctx, "upstream-idt:"+hex.EncodeToString(sum[:]), idt.Expiry)
	if err != nil {
		return verified{}, err
	}
	if !ok {
		return verified{}, &errRefused{reason: "replay", hint: "the subject_token was already exchanged"}
	}
	var amr []string
	if list, ok := claims["amr"].([]any); ok {
		for _, m := range list {
			if s, ok := m.(string); ok && len(s) <= 16 && len(amr) < 8 {
				amr = append(amr, s)
			}
		}
	}
	return verified{provider: p, upstreamSubject: sub, subject: p.SubjectPrefix + sub, amr: amr, nonce: idt.Nonce}, nil
}

var errUpstreamUnavailable = errors.New("login: upstream provider unavailable")

func refusalReason(err error) string {
	var exp *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &exp):
		return "expired"
	case strings.Contains(msg, "expected audience"):
		return "audience"
	case strings.Contains(msg, "issued by a different provider"):
		return "issuer"
	case strings.Contains(msg, "unsupported algorithm") || strings.Contains(msg, "signing algorithm"):
		return "algorithm"
	case strings.Contains(msg, "signature"):
		return "signature"
	}
	return "claims"
}

// TokenExchangeGrant is grant_type=urn:ietf:params:oauth:grant-type:
// token-exchange (RFC 8693) for subject_token_type id_token: an upstream
// ID token for authledger's access and refresh tokens, bound to the
// calling client.
type TokenExchangeGrant struct{ u *Upstreams }

// Grant returns the RFC 8693 grant over u.
func (u *Upstreams) Grant() *TokenExchangeGrant { return &TokenExchangeGrant{u: u} }

// GrantType implements api.Grant.
func (*TokenExchangeGrant) GrantType() string { return GrantTokenExchange }

// tokenExchangeResponse is RFC 8693 §2.2.1.
type tokenExchangeResponse struct {
	AccessToken     string `json:"access_token"`
	IssuedTokenType string `json:"issued_token_type"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
	RefreshToken    string `json:"refresh_token,omitempty"`
}

// Handle implements api.Grant.
func (g *TokenExchangeGrant) Handle(c echo.Context, cl api.AuthenticatedClient) error {
	ctx := c.Request().Context()
	form := c.Request().PostForm
	clientID := string(cl.ID)
	if form.Get("subject_token_type") != TokenTypeIDToken {
		return oauth.ErrInvalidRequest.WithHint("subject_token_type must be " + TokenTypeIDToken)
	}
	if rt := form.Get("requested_token_type"); rt != "" && rt != TokenTypeAccess {
		return oauth.ErrInvalidRequest.WithHint("requested_token_type must be " + TokenTypeAccess)
	}
	if form.Get("actor_token") != "" || form.Get("actor_token_type") != "" {
		return oauth.ErrInvalidRequest.WithHint("delegation (actor_token) is not supported")
	}
	raw := form.Get("subject_token")
	if raw == "" || len(raw) > 16<<10 || len(form["subject_token"]) != 1 {
		return oauth.ErrInvalidRequest.WithHint("one subject_token is required")
	}
	refuse := func(provider string, err error) error {
		var r *errRefused
		if !errors.As(err, &r) {
			if errors.Is(err, errUpstreamUnavailable) {
				return oauth.ErrTemporarilyUnavail.WithHint("the upstream provider could not be reached").WithDebug(err.Error())
			}
			return err
		}
		if rerr := g.u.signIn.Refuse(context.WithoutCancel(ctx), provider, clientID, "token_exchange", r.reason, api.RequestMetadata(c)); rerr != nil {
			return rerr
		}
		return oauth.ErrInvalidRequest.WithHint(r.hint)
	}
	iss, err := unverifiedIssuer(raw, g.u.allAlgorithms())
	if err != nil {
		return refuse("", err)
	}
	var p *upstreamProvider
	for _, cand := range g.u.providers {
		if cand.Issuer == iss && slices.Contains(cand.Clients, clientID) {
			p = cand
			break
		}
	}
	if p == nil {
		return refuse("", &errRefused{reason: "issuer", hint: "the subject_token's issuer is not an upstream this client may exchange"})
	}
	v, err := g.u.verify(ctx, p, raw)
	if err != nil {
		return refuse(p.Name, err)
	}
	out, err := g.u.signIn.Handle(ctx, commands.UpstreamSignIn{Provider: p.Name, Issuer: p.Issuer, UpstreamSubject: v.upstreamSubject,
		Subject: v.subject, ClientID: clientID, Flow: "token_exchange", AMR: v.amr}, api.RequestMetadata(c))
	if errors.Is(err, commands.ErrInvalidSubject) {
		return refuse(p.Name, &errRefused{reason: "claims", hint: "the mapped subject is not a valid subject"})
	}
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	return c.JSON(http.StatusOK, tokenExchangeResponse{AccessToken: out.AccessToken, IssuedTokenType: TokenTypeAccess, TokenType: "Bearer",
		ExpiresIn: out.ExpiresIn, RefreshToken: out.RefreshToken})
}

// oauthConfig is the browser flow's client at the upstream.
func (p *Passkeys) oauthConfig(up *upstreamProvider, op *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: up.ClientID, ClientSecret: up.clientSecret, Endpoint: op.Endpoint(),
		RedirectURL: strings.TrimRight(p.cfg.Issuer, "/") + "/login/oidc/" + up.Name + "/callback", Scopes: []string{oidc.ScopeOpenID}}
}

// oidcStart is GET /login/oidc/<provider>: a redirect to the upstream's
// authorization endpoint with state, nonce and a PKCE S256 challenge,
// remembered server-side under the ceremony cookie.
func (p *Passkeys) oidcStart(c echo.Context) error {
	up := p.browserProvider(c.Param("provider"))
	if up == nil {
		return api.NewProblem(http.StatusNotFound, "not-found", "Not Found", "no such sign-in provider")
	}
	op, err := up.discover(c.Request().Context())
	if err != nil {
		p.cfg.Log.Error("upstream discovery", "provider", up.Name, "err", err)
		return api.NewProblem(http.StatusBadGateway, "upstream-unavailable", "Bad Gateway", "the sign-in provider could not be reached")
	}
	state, nonce := oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
	verifier := oauth2.GenerateVerifier()
	cer := ceremony{Kind: "oidc", Provider: up.Name, State: state, Nonce: nonce, Verifier: verifier}
	// Lax, not Strict: the callback is a top-level navigation from the
	// upstream's site, on which a Strict cookie is not sent.
	if err := p.setCeremonyWith(c, cer, http.SameSiteLaxMode); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, p.oauthConfig(up, op).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)))
}

func (p *Passkeys) browserProvider(name string) *upstreamProvider {
	if p.cfg.Upstreams == nil {
		return nil
	}
	up := p.cfg.Upstreams.byName(name)
	if up == nil || up.ClientID == "" {
		return nil
	}
	return up
}

// oidcCallback finishes the browser flow: state, the code exchanged with
// the PKCE verifier, the ID token verified (with its nonce), the session
// started, the cookie set.
func (p *Passkeys) oidcCallback(c echo.Context) error {
	ctx := c.Request().Context()
	up := p.browserProvider(c.Param("provider"))
	if up == nil {
		return api.NewProblem(http.StatusNotFound, "not-found", "Not Found", "no such sign-in provider")
	}
	u := p.cfg.Upstreams
	refuse := func(reason string) error {
		_ = u.signIn.Refuse(context.WithoutCancel(ctx), up.Name, "", "browser", reason, p.meta(c))
		return api.NewProblem(http.StatusUnauthorized, "upstream-sign-in-failed", "Unauthorized", "the sign-in with "+up.Name+" could not be completed")
	}
	cer, ok, err := p.takeCeremony(c, "oidc")
	if err != nil {
		return err
	}
	q := c.QueryParams()
	if !ok || cer.Provider != up.Name || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(cer.State)) != 1 {
		return refuse("state")
	}
	if q.Get("error") != "" || q.Get("code") == "" {
		return refuse("denied")
	}
	op, err := up.discover(ctx)
	if err != nil {
		return api.NewProblem(http.StatusBadGateway, "upstream-unavailable", "Bad Gateway", "the sign-in provider could not be reached")
	}
	tok, err := p.oauthConfig(up, op).Exchange(oidc.ClientContext(ctx, up.client), q.Get("code"), oauth2.VerifierOption(cer.Verifier))
	if err != nil {
		p.cfg.Log.Info("upstream code exchange refused", "provider", up.Name, "err", err)
		return refuse("code")
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return refuse("claims")
	}
	v, err := u.verify(ctx, up, raw)
	var r *errRefused
	if errors.As(err, &r) {
		return refuse(r.reason)
	}
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(v.nonce), []byte(cer.Nonce)) != 1 {
		return refuse("nonce")
	}
	out, err := u.signIn.Handle(ctx, commands.UpstreamSignIn{Provider: up.Name, Issuer: up.Issuer, UpstreamSubject: v.upstreamSubject,
		Subject: v.subject, ClientID: commands.LoginClientID, Flow: "browser", AMR: v.amr}, p.meta(c))
	if errors.Is(err, commands.ErrInvalidSubject) {
		return refuse("claims")
	}
	if err != nil {
		return err
	}
	p.setSession(c, out.SessionToken)
	return c.Redirect(http.StatusSeeOther, "/account")
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
