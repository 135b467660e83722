package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/client/verifier"
	cmds "github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/domain/token"
	"github.com/authledger/authledger/internal/compose"
	"github.com/authledger/authledger/login"
	"github.com/authledger/authledger/projections"
	"github.com/authledger/authledger/readmodels/families"
	"github.com/authledger/authledger/readmodels/sessions"
	"github.com/authledger/authledger/sessionstore"
)

// TokensConfig is the token-lifecycle part of the configuration, read with
// the same AUTHLEDGER_ prefix (and YAML file) as Config.
type TokensConfig struct {
	// AllowedOrigins are the exact browser origins (scheme://host[:port])
	// allowed to use the session cookie on unsafe requests (CSRF defence
	// of POST /v1/session/token and cookie DELETE /v1/sessions/{id}).
	// Empty: no origin may.
	AllowedOrigins []string `env:"ALLOWED_ORIGINS" envSeparator:","`
	// RefreshGrace is the refresh retry window: 0s to 30s, 10s by default
	// (refreshtoken.DefaultGrace); 0s turns it off.
	RefreshGrace time.Duration `env:"REFRESH_GRACE" envDefault:"10s"`
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
	if c.RefreshGrace < 0 || c.RefreshGrace > refreshtoken.MaxGrace {
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

// tokenParts is what the token part hands on: its contributions, the
// session use cases the privacy dashboard reuses, and the account page's
// activity feed (nil without the login module), which the audit part
// hands its read model.
type tokenParts struct {
	contributions
	sessions api.SessionUseCases
	activity *login.AuditActivity
}

// buildTokens adds sessions, the refresh_token grant, revocation,
// introspection and the revocation feed.
func buildTokens(ctx context.Context, in *infraParts, keys keyParts, revs revocationParts, clients clientParts) (tokenParts, error) {
	tc := in.cfg.TokensConfig
	sp := keys.secrets
	codec, err := cmds.LoadRefreshCodec(ctx, sp, nil)
	if err != nil {
		return tokenParts{}, err
	}
	absolute := token.Bound(token.Session).Lifetime
	var live cmds.SessionStore = sessionstore.NewMemory(nil)
	if rdb := in.redis; rdb != nil {
		live = sessionstore.NewRedis(rdb, "authledger:sess:", absolute)
	}
	// Revocation and introspection verify with keys from the ledger in
	// process (the keys part's JWKS model), any audience.
	v, err := verifier.New(verifier.Config{Issuer: in.cfg.Issuer, AnyAudience: true, Keys: keys.model, Leeway: 5 * time.Second, Observer: in.verifications})
	if err != nil {
		return tokenParts{}, err
	}
	rules, err := cmds.NewTokenRules(in.cfg.Issuer, nil, nil, nil)
	if err != nil {
		return tokenParts{}, err
	}
	sealer := cmds.NewRefreshSealer(codec, func(ctx context.Context) (*refreshtoken.Codec, error) { return cmds.LoadRefreshCodec(ctx, sp, nil) })
	usedKeys := families.NewSealingKeys()
	in.restoreSnapshot(ctx, usedKeys)
	if _, err := projections.CatchUp(ctx, in.store, usedKeys, usedKeys.ResumeAt()); err != nil {
		return tokenParts{}, fmt.Errorf("tokens: %w", err)
	}
	sealer.KnowLedgerKeys(func(kid string) bool { return usedKeys.Live(kid, time.Now()) })
	tok, err := compose.NewTokens(compose.TokenDeps{
		Store: in.store, Signer: keys.signer, Sealer: sealer, Live: live,
		Verifier: compose.AccessVerifier(v), Revocations: revs.set, Publisher: revs.publisher,
		Rules: rules, Grace: tc.RefreshGrace, SessionIndex: sessions.TokenIndex{DB: in.runner.DB().DB},
	})
	if err != nil {
		return tokenParts{}, err
	}
	// Read models for operators and dashboards; decisions never read them.
	for _, p := range []projections.Projection{families.Projection{}, sessions.Active{}, sessions.Tokens{}, usedKeys} {
		if err := in.runner.Register(p); err != nil {
			return tokenParts{}, fmt.Errorf("tokens: %w", err)
		}
	}
	if err := registerActiveSessions(in); err != nil {
		return tokenParts{}, fmt.Errorf("tokens: metrics: %w", err)
	}
	if err := clients.tokenEndpoint.AddGrant(api.NewRefreshGrant(tok.Refresh)); err != nil {
		return tokenParts{}, err
	}
	sessAPI := api.NewSessions(tok.SessionUseCases(), tc.AllowedOrigins, absolute).RequireActiveClients(clients.directory)
	out := tokenParts{sessions: tok.SessionUseCases(), contributions: contributions{ready: []api.ReadyCheck{sealingKeysCheck(sealer, usedKeys)},
		routes: []api.Routes{sessAPI, api.NewRevocations(revs.set),
			api.NewRevoke(clients.auth, tok.Revoke), api.NewIntrospect(clients.auth, tok.Introspector)},
		tasks: []task{{"sealing key reload", sealingKeyReload(in.log, sealer)}}}}
	loginParts, activity, err := buildLogin(in, tok, rules, clients, absolute)
	if err != nil {
		return tokenParts{}, err
	}
	out.add(loginParts)
	out.activity = activity
	return out, nil
}
