package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/labstack/echo/v4"

	"authledger/api"
	"authledger/client/verifier"
	cmds "authledger/commands"
	"authledger/eventstore"
	"authledger/internal/bus"
	"authledger/projections"
	"authledger/readmodels/revocations"
	"authledger/readmodels/services"
	"authledger/secrets"
)

// app is the built object graph of `serve`. Each feature adds itself with a
// wiring step (see wiringSteps) instead of growing one constructor.
type app struct {
	cfg   Config
	log   *slog.Logger
	store eventstore.Store
	// metrics is the one Prometheus registry; features register on it.
	metrics *prometheus.Registry
	routes  []api.Routes
	ready   []api.ReadyCheck
	// background tasks run until ctx ends; supervisor restarts a failed one
	// with backoff and reports it in /readyz.
	background []func(ctx context.Context) error
	supervisor *supervisor
	// redis is the one Redis client, nil without AUTHLEDGER_REDIS_URL.
	redis *redis.Client
	// bus carries revocations and JWKS invalidations between instances
	// (Redis streams with a.redis, in process without).
	bus     *bus.Bus
	closers []func() error

	// signer mints access and M2M JWTs (set by the keys step). bearer
	// verifies tokens presented to authledger's own APIs, aud holding the
	// issuer (set by the keys step).
	signer cmds.Signer
	bearer api.BearerVerifier
	// Set by wireKeys (wire_keys.go): the secret provider (signing keys,
	// refresh sealing key) and the in-process JWKS as a verifier key source.
	secrets   secrets.Provider
	keySource verifier.KeySource
	// Set by wireServices (wire_services.go): the registry, the token
	// endpoint other grants register on, client authentication for
	// revoke/introspect, and the admin guard for other admin groups.
	services      *services.Registry
	tokenEndpoint *api.TokenEndpoint
	clientAuth    *api.ClientAuthenticator
	requireScope  func(scope string) echo.MiddlewareFunc
	// Set by wireRevocations (wire_revocations.go), before any verifier is
	// built: every bearer check of the service consults it.
	revocations *revocations.Set
	// revocationPublisher announces a revocation to this instance's set at
	// once and to the others over a.bus (set by wireRevocations).
	revocationPublisher cmds.RevocationPublisher
	// Set by wireProjections (wire_projections.go), the first step: later
	// steps Register their projections on it; runner.DB() is the read-model
	// database. It starts after every step has run.
	runner *projections.Runner
}

// wiringSteps run in order after the ledger is open. A step may use what the
// steps before it added to the app.
var wiringSteps = []func(ctx context.Context, a *app) error{
	wireProjections, // first: sets a.runner for the steps that register projections
	wireRevocations, // sets a.revocations, which the verifiers below consult
	wireKeys,        // sets a.signer, a.bearer, a.secrets, a.keySource
	wireServices,
	wireTokens, // after keys and services: needs a.signer, a.tokenEndpoint, a.clientAuth
	wireOpenAPI,
	wireWebhooks,
}

func (a *app) onClose(f func() error) { a.closers = append(a.closers, f) }

func buildApp(ctx context.Context, cfg Config, log *slog.Logger) (*app, error) {
	a := &app{cfg: cfg, log: log, metrics: prometheus.NewRegistry()}
	a.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.supervisor = newSupervisor(log, a.metrics)
	store, err := openStore(ctx, cfg.Store)
	if err != nil {
		return nil, fmt.Errorf("open ledger: %w", err)
	}
	a.store = store
	a.onClose(store.Close)
	if a.redis, err = openRedis(cfg); err != nil {
		return nil, errors.Join(err, a.close())
	}
	if a.redis != nil {
		a.onClose(a.redis.Close)
	}
	if a.bus, err = openBus(a.redis, log); err != nil {
		return nil, errors.Join(err, a.close())
	}
	a.onClose(a.bus.Close) // closed before the Redis client it uses
	a.ready = append(a.ready, api.ReadyCheck{Name: "ledger", Check: func(ctx context.Context) error {
		_, err := store.Head(ctx)
		return err
	}}, api.ReadyCheck{Name: "background", Check: a.supervisor.ready})
	for _, step := range wiringSteps {
		if err := step(ctx, a); err != nil {
			return nil, errors.Join(err, a.close())
		}
	}
	return a, nil
}

// close releases resources in reverse order of acquisition, so the ledger
// (acquired first) drains its pending appends last.
func (a *app) close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}
