package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"authledger/api"
	"authledger/client/verifier"
	cmds "authledger/commands"
	"authledger/domain/refreshtoken"
	"authledger/domain/token"
	"authledger/internal/compose"
	"authledger/projections"
	"authledger/readmodels/families"
	"authledger/readmodels/sessions"
	"authledger/sessionstore"
)

// TokensConfig is the token-lifecycle part of the configuration, read with
// the same AUTHLEDGER_ prefix (and YAML file) as Config.
type TokensConfig struct {
	// AllowedOrigins are the exact browser origins (scheme://host[:port])
	// allowed to use the session cookie on unsafe requests (CSRF defence
	// of POST /v1/session/token and cookie DELETE /v1/sessions/{id}).
	// Empty: no origin may.
	AllowedOrigins []string `env:"ALLOWED_ORIGINS" envSeparator:","`
	// RefreshGrace is the refresh retry window: 0 (default) to 30s.
	RefreshGrace time.Duration `env:"REFRESH_GRACE" envDefault:"0s"`
}

// normalize turns each valid allowed origin into its exact
// scheme://host[:port] form, the form the Origin header is compared with.
func (c *TokensConfig) normalize() {
	for i, o := range c.AllowedOrigins {
		if u, ok := parseOrigin(o); ok {
			c.AllowedOrigins[i] = u.Scheme + "://" + u.Host
		}
	}
}

// validate names every bad token-lifecycle setting.
func (c TokensConfig) validate() []error {
	var errs []error
	if c.RefreshGrace < 0 || c.RefreshGrace > 30*time.Second {
		errs = append(errs, fmt.Errorf("%sREFRESH_GRACE: must be between 0s and 30s", envPrefix))
	}
	for _, o := range c.AllowedOrigins {
		if _, ok := parseOrigin(o); !ok {
			errs = append(errs, fmt.Errorf("%sALLOWED_ORIGINS: %q is not an origin (scheme://host[:port])", envPrefix, strings.TrimSpace(o)))
		}
	}
	return errs
}

func parseOrigin(o string) (*url.URL, bool) {
	u, err := url.Parse(strings.TrimSpace(o))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, false
	}
	return u, true
}

// wireTokens adds sessions, the refresh_token grant, revocation,
// introspection and the revocation feed. It runs after the revocations step
// (a.revocations), the keys step (a.signer) and the services step
// (a.tokenEndpoint, a.clientAuth).
func wireTokens(ctx context.Context, a *app) error {
	tc := a.cfg.TokensConfig
	if a.signer == nil {
		// Fail closed: no signer, no token lifecycle endpoints at all.
		a.log.Warn("tokens: no signer wired; session, refresh, revoke and introspect endpoints are off")
		return nil
	}
	// The keys step sets a.signer, a.secrets and a.keySource together.
	sp := a.secrets
	codec, err := cmds.LoadRefreshCodec(ctx, sp, nil)
	if err != nil {
		return err
	}

	// The token service verifies with keys from the ledger in process: the
	// keys step's JWKS model.
	keys := a.keySource

	// The revocations step built, caught up and registered the set.
	revs := a.revocations
	if revs == nil {
		return errors.New("tokens: no revocation set wired")
	}

	absolute := token.Bound(token.Session).Lifetime
	var store cmds.SessionStore = sessionstore.NewMemory(nil)
	// The revocations step's publisher: this instance refuses a token it
	// revoked from the next request on, and the bus tells the others.
	publisher := a.revocationPublisher
	if rdb := a.redis; rdb != nil {
		store = sessionstore.NewRedis(rdb, "authledger:sess:", absolute)
	}

	v, err := verifier.New(verifier.Config{Issuer: a.cfg.Issuer, AnyAudience: true, Keys: keys, Leeway: 5 * time.Second})
	if err != nil {
		return err
	}
	rules, err := cmds.NewTokenRules(a.cfg.Issuer, nil, nil, nil)
	if err != nil {
		return err
	}
	sealer := cmds.NewRefreshSealer(codec, func(ctx context.Context) (*refreshtoken.Codec, error) { return cmds.LoadRefreshCodec(ctx, sp, nil) })
	tok, err := compose.NewTokens(compose.TokenDeps{
		Store: a.store, Signer: a.signer, Sealer: sealer, Live: store,
		Verifier: compose.AccessVerifier(v), Revocations: revs, Publisher: publisher,
		Rules: rules, Grace: tc.RefreshGrace,
	})
	if err != nil {
		return err
	}
	// Read models for operators and dashboards; decisions never read them.
	if a.runner != nil {
		for _, p := range []projections.Projection{families.Projection{}, sessions.Active{}} {
			if err := a.runner.Register(p); err != nil {
				return fmt.Errorf("tokens: %w", err)
			}
		}
	}
	sessAPI := api.NewSessions(tok.SessionUseCases(), tc.AllowedOrigins, absolute)
	if a.services != nil { // nil: login-service calls are refused (fail closed)
		sessAPI.RequireActiveClients(a.services)
	}
	a.routes = append(a.routes, sessAPI, api.NewRevocations(revs))
	if a.clientAuth != nil {
		a.routes = append(a.routes, api.NewRevoke(a.clientAuth, tok.Revoke), api.NewIntrospect(a.clientAuth, tok.Introspector))
	} else {
		a.log.Warn("tokens: no client authentication wired; /oauth2/revoke and /oauth2/introspect are off")
	}
	if a.tokenEndpoint != nil {
		if err := a.tokenEndpoint.AddGrant(api.NewRefreshGrant(tok.Refresh)); err != nil {
			return err
		}
	}
	return nil
}
