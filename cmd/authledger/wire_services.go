package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/labstack/echo/v4"

	"authledger/api"
	cmds "authledger/commands"
	"authledger/ratelimit"
	"authledger/readmodels/services"
	"authledger/replayguard"
)

// wireServices adds the service registry, client authentication, the token
// endpoint with the client_credentials grant and the services admin API.
// It needs a.signer (and a.bearer for the admin API) from the keys step,
// which must run before it. It leaves a.tokenEndpoint (other grants register
// on it), a.clientAuth (for /oauth2/revoke and /oauth2/introspect) and
// a.requireScope (for other admin groups) to the steps after it.
func wireServices(ctx context.Context, a *app) error {
	reg := services.New()
	a.services = reg
	// The registry is in memory on every instance: it builds from position
	// 0 and follows the ledger, so a change made by any instance or by the
	// CLI reaches it within the feed delay. On the runner (a memory
	// projection runs on every instance, one store notification behind the
	// ledger) it shows in status, metrics and /readyz, whose projections
	// check holds readiness until it has reached the head seen at start.
	// It is not caught up before the server answers: until it is, an
	// unknown client is refused (fail closed), and WaitFor only needs the
	// position of a client event, which the runner delivers.
	if a.runner != nil {
		if err := a.runner.Register(reg); err != nil {
			return fmt.Errorf("services: %w", err)
		}
	} else {
		a.background = append(a.background, func(ctx context.Context) error { return reg.Follow(ctx, a.store) })
		head, err := a.store.Head(ctx)
		if err != nil {
			return fmt.Errorf("services: ledger head: %w", err)
		}
		// Follow also advances past other aggregates' records, so the
		// position reaches the head.
		a.ready = append(a.ready, api.ReadyCheck{Name: "services", Check: func(context.Context) error {
			if reg.Position() < head.Position {
				return errors.New("service registry catching up")
			}
			return nil
		}})
	}

	var guard cmds.AssertionGuard = replayguard.NewMemory(nil)
	var limiter api.RateLimiter = ratelimit.New(ratelimit.DefaultLimits())
	if rdb := a.redis; rdb != nil {
		guard = replayguard.NewRedis(rdb, "authledger:jti:", nil)
		limiter = ratelimit.NewRedis(ratelimit.DefaultLimits(), rdb, "authledger:rl:")
	}

	issuer := strings.TrimRight(a.cfg.Issuer, "/")
	auth, err := cmds.NewClientAuthenticator(cmds.ClientAuthConfig{
		Directory: reg,
		Replay:    guard,
		Audiences: []string{issuer + "/oauth2/token", issuer, a.cfg.Issuer},
	})
	if err != nil {
		return err
	}
	a.clientAuth = api.NewClientAuthenticator(auth, limiter)
	if err := a.clientAuth.Instrument(a.metrics); err != nil {
		return fmt.Errorf("services: metrics: %w", err)
	}
	te, err := api.NewTokenEndpoint(a.clientAuth)
	if err != nil {
		return err
	}
	a.tokenEndpoint = te
	a.routes = append(a.routes, te)

	if a.signer == nil {
		a.log.Warn("services: no signer wired; the client_credentials grant is off")
	} else {
		cc, err := cmds.NewClientCredentialsGrant(cmds.ClientCredentialsConfig{Signer: a.signer, Issuer: a.cfg.Issuer})
		if err != nil {
			return err
		}
		if err := te.AddGrant(api.NewClientCredentialsGrant(cc)); err != nil {
			return err
		}
	}

	svcCmds, err := cmds.NewServices(cmds.ServicesConfig{Store: a.store, Publisher: a.revocationPublisher})
	if err != nil {
		return err
	}
	if a.bearer == nil {
		// Fail closed: without a verifier no admin call can be authorized.
		a.log.Warn("services: no bearer verifier wired; admin APIs refuse every call")
		a.requireScope = func(string) echo.MiddlewareFunc {
			return func(echo.HandlerFunc) echo.HandlerFunc {
				return func(echo.Context) error {
					return api.NewProblem(503, "admin-unavailable", "Service Unavailable", "admin authorization is not configured")
				}
			}
		}
	} else {
		a.requireScope = func(scope string) echo.MiddlewareFunc { return api.RequireScope(a.bearer, scope) }
	}
	a.routes = append(a.routes, api.NewAdminServices(svcCmds, reg, a.requireScope(api.ServicesAdminScope)))
	return nil
}
