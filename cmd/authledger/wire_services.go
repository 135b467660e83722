package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/api"
	cmds "github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/internal/compose"
	"github.com/authledger/authledger/internal/opsmetrics"
	"github.com/authledger/authledger/readmodels/services"
	"github.com/authledger/authledger/replayguard"
)

// clientParts are the service registry and client authentication: the
// token endpoint other grants register on, and the admin-scope guard other
// admin groups use.
type clientParts struct {
	contributions
	registry *services.Registry
	// directory is the registry with the ledger behind it: a client the
	// registry has not folded yet is read from its stream (LedgerClients).
	directory     cmds.ClientDirectory
	auth          *api.ClientAuthenticator
	limiter       api.RateLimiter
	tokenEndpoint *api.TokenEndpoint
	requireScope  func(scope string) echo.MiddlewareFunc
	// dpop checks DPoP proofs (RFC 9449) at the token endpoint and on /v1,
	// with the replay guard of private_key_jwt (shared in Redis).
	dpop api.DPoPChecker
}

// buildClients adds the service registry, client authentication, the token
// endpoint with the client_credentials grant and the services admin API.
func buildClients(ctx context.Context, in *infraParts, keys keyParts, revs revocationParts) (clientParts, error) {
	// The registry is in memory on every instance. It catches up to the
	// head here, before the server listens, so a restart knows every
	// client from its first request; the runner feeds it from then on
	// (Apply skips what CatchUp folded), so a change made by any instance
	// or by the CLI reaches it within the feed delay. Until then a client
	// it does not know is looked up in its ledger stream (LedgerClients)
	// before invalid_client is answered.
	reg := services.New()
	in.restoreSnapshot(ctx, reg) // then CatchUp folds only what came after it
	if err := reg.CatchUp(ctx, in.store); err != nil {
		return clientParts{}, fmt.Errorf("services: %w", err)
	}
	if err := in.runner.Register(reg); err != nil {
		return clientParts{}, fmt.Errorf("services: %w", err)
	}
	var guard cmds.AssertionGuard = replayguard.NewMemory(nil)
	if rdb := in.redis; rdb != nil {
		guard = replayguard.NewRedis(rdb, "authledger:jti:", nil)
	}
	rl, err := newLimiter(in.cfg.RateLimitConfig, reg, in.redis) // wire_ratelimits.go
	if err != nil {
		return clientParts{}, fmt.Errorf("services: %w", err)
	}
	limiter, err := opsmetrics.CountRefusals(rl, in.metrics)
	if err != nil {
		return clientParts{}, fmt.Errorf("services: metrics: %w", err)
	}
	pepper, err := cmds.LoadSecretPepper(ctx, keys.secrets, nil) // keys v2 secret hashes
	if err != nil {
		return clientParts{}, fmt.Errorf("services: %w", err)
	}
	directory := cmds.LedgerClients(reg, cmds.Clients(in.store))
	acfg := cmds.ClientAuthConfig{Directory: directory, Pepper: pepper, Replay: guard, Issuer: in.cfg.Issuer}
	if in.cfg.AssertionAcceptTokenEndpointAud { // RFC 7523bis compatibility switch, off by default
		acfg.TokenEndpointAudience = strings.TrimRight(in.cfg.Issuer, "/") + "/oauth2/token"
	}
	auth, err := cmds.NewClientAuthenticator(acfg)
	if err != nil {
		return clientParts{}, err
	}
	clientAuth := api.NewClientAuthenticator(auth, limiter)
	if err := clientAuth.Instrument(in.metrics); err != nil {
		return clientParts{}, fmt.Errorf("services: metrics: %w", err)
	}
	cc, err := cmds.NewClientCredentialsGrant(cmds.ClientCredentialsConfig{Signer: keys.signer, Issuer: in.cfg.Issuer})
	if err != nil {
		return clientParts{}, err
	}
	te, err := api.NewTokenEndpoint(clientAuth, api.NewClientCredentialsGrant(cc))
	if err != nil {
		return clientParts{}, err
	}
	dpop, err := compose.NewDPoPChecker(guard, nil)
	if err != nil {
		return clientParts{}, err
	}
	nonces, err := cmds.LoadDPoPNonces(ctx, keys.secrets, nil, nil) // keys DPoP server nonces, shared by every instance
	if err != nil {
		return clientParts{}, err
	}
	te.WithDPoP(dpop, nonces, in.cfg.Issuer)
	svcCmds, err := cmds.NewServices(cmds.ServicesConfig{Store: in.store, Pepper: pepper, Publisher: revs.publisher})
	if err != nil {
		return clientParts{}, err
	}
	requireScope := func(scope string) echo.MiddlewareFunc { return api.RequireScope(revs.bearer, scope) }
	return clientParts{registry: reg, directory: directory, auth: clientAuth, limiter: limiter, tokenEndpoint: te, requireScope: requireScope, dpop: dpop,
		contributions: contributions{routes: []api.Routes{te, api.NewAdminServices(svcCmds, reg, requireScope(api.ServicesAdminScope))}}}, nil
}
