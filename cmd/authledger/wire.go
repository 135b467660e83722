package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/internal/bus"
	"github.com/authledger/authledger/internal/opsmetrics"
	"github.com/authledger/authledger/internal/redisguard"
	"github.com/authledger/authledger/projections"
)

// The composition root of `serve`. buildApp calls one build function per
// part, in the order their signatures force: infra → keys → revocations →
// clients → tokens → projections → server. Each takes the parts it needs
// and returns a small parts struct; nothing is optional, so no part checks
// whether another was wired.

// task is a named background task; the supervisor restarts it after a
// failure and reports it under its name in logs, metrics and /readyz.
type task struct {
	name string
	run  func(ctx context.Context) error
}

// contributions are what a part adds to the server.
type contributions struct {
	routes []api.Routes
	ready  []api.ReadyCheck
	tasks  []task
}

func (c *contributions) add(o contributions) {
	c.routes = append(c.routes, o.routes...)
	c.ready = append(c.ready, o.ready...)
	c.tasks = append(c.tasks, o.tasks...)
}

// infraParts is what every other part is built on.
type infraParts struct {
	cfg     Config
	log     *slog.Logger
	store   eventstore.Store
	redis   *redis.Client // nil without AUTHLEDGER_REDIS_URL
	bus     *bus.Bus      // Redis streams with redis, in process without
	metrics *prometheus.Registry
	// verifications is the verifiers' latency histogram (client/verifier's
	// Observer on Prometheus).
	verifications *opsmetrics.Verifications
	supervisor    *supervisor
	ops           opsParts
	// runner feeds every projection; later parts register theirs on it and
	// the projections part starts it.
	runner  *projections.Runner
	closers []func() error

	// writes is store seen as the outcome of its appends (readiness).
	writes *eventstore.WriteHealth
	// snapshots holds the memory read models' snapshots; snapshotted are
	// the models saved to it (wire_snapshots.go).
	snapshots   *projections.SnapshotStore
	snapshotted []projections.Snapshotter
}

func (in *infraParts) onClose(f func() error) { in.closers = append(in.closers, f) }

// close releases resources in reverse order of acquisition, so the ledger
// (acquired first) drains its pending appends last.
func (in *infraParts) close() error {
	var errs []error
	for i := len(in.closers) - 1; i >= 0; i-- {
		errs = append(errs, in.closers[i]())
	}
	in.closers = nil
	return errors.Join(errs...)
}

// app is the built object graph.
type app struct {
	*infraParts
	keys    keyParts
	revs    revocationParts
	clients clientParts
	contributions
}

func buildApp(ctx context.Context, cfg Config, log *slog.Logger) (*app, error) {
	in, err := buildInfra(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	a, err := assemble(ctx, in)
	if err != nil {
		return nil, errors.Join(err, in.close())
	}
	return a, nil
}

func assemble(ctx context.Context, in *infraParts) (*app, error) {
	keys, err := buildKeys(ctx, in)
	if err != nil {
		return nil, err
	}
	revs, err := buildRevocations(ctx, in, keys)
	if err != nil {
		return nil, err
	}
	clients, err := buildClients(ctx, in, keys, revs)
	if err != nil {
		return nil, err
	}
	tokens, err := buildTokens(ctx, in, keys, revs, clients)
	if err != nil {
		return nil, err
	}
	audit, err := buildAudit(in, keys, clients, tokens)
	if err != nil {
		return nil, err
	}
	projs := buildProjections(in, clients)
	server, err := buildServerRoutes(in)
	if err != nil {
		return nil, err
	}
	hooks, err := buildInfisical(in, keys, clients.limiter)
	if err != nil {
		return nil, err
	}
	a := &app{infraParts: in, keys: keys, revs: revs, clients: clients}
	a.ready = append(a.ready, api.ReadyCheck{Name: "ledger", Check: func(ctx context.Context) error {
		_, err := in.store.Head(ctx)
		return err
	}}, api.ReadyCheck{Name: "ledger_writes", Check: in.writes.Check},
		api.ReadyCheck{Name: "background", Check: in.supervisor.ready})
	a.ready = append(a.ready, redisCheck(in)...)
	a.tasks = append(a.tasks, snapshotTask(in))
	for _, c := range []contributions{keys.contributions, revs.contributions, clients.contributions, tokens.contributions, audit, projs, server, hooks} {
		a.add(c)
	}
	return a, nil
}

// buildInfra opens the ledger, Redis, the bus, the read-model database and
// the projection runner.
func buildInfra(ctx context.Context, cfg Config, log *slog.Logger) (*infraParts, error) {
	in := &infraParts{cfg: cfg, log: log, metrics: prometheus.NewRegistry()}
	in.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	in.supervisor = newSupervisor(log, in.metrics)
	ops, err := newOps(in.metrics)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	in.ops = ops
	if in.verifications, err = opsmetrics.NewVerifications(in.metrics); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	opened, err := openLedgerObserved(ctx, cfg.Store, false, ops.ledger.BatchSize)
	if err != nil {
		return nil, fmt.Errorf("open ledger: %w", err)
	}
	// Every append goes through writes, so readiness follows their outcome.
	in.writes = eventstore.NewWriteHealth(opened, 0, nil)
	if err := in.writes.Probe(ctx); err != nil {
		log.Warn("the ledger does not look writable; not ready until it does", "err", err)
	}
	store := eventstore.Store(in.writes)
	in.onClose(store.Close)
	fail := func(err error) (*infraParts, error) { return nil, errors.Join(err, in.close()) }
	if in.store, err = ops.ledger.Wrap(store); err != nil {
		return fail(fmt.Errorf("metrics: %w", err))
	}
	var guard *redisguard.Guard
	if in.redis, guard, err = openRedisGuarded(cfg); err != nil {
		return fail(err)
	}
	if in.redis != nil {
		in.onClose(in.redis.Close)
		if err := opsmetrics.RegisterBreaker(in.metrics, guard.State); err != nil {
			return fail(fmt.Errorf("metrics: %w", err))
		}
	}
	if in.bus, err = openBus(in.redis, log); err != nil {
		return fail(err)
	}
	in.onClose(in.bus.Close) // closed before the Redis client it uses
	db, err := projections.Open(ctx, cfg.ReadModels)
	if err != nil {
		return fail(fmt.Errorf("read models: %w", err))
	}
	in.onClose(db.Close)
	if in.runner, err = projections.New(projections.Config{Store: store, DB: db, Registerer: in.metrics, Logger: log}); err != nil {
		return fail(err)
	}
	if in.snapshots, err = projections.NewSnapshotStore(ctx, db); err != nil {
		return fail(err)
	}
	return in, nil
}

// buildServerRoutes adds the routes that depend on no other part: the
// OpenAPI document.
func buildServerRoutes(in *infraParts) (contributions, error) {
	doc, err := api.NewOpenAPI()
	if err != nil {
		// Embedded: a document that does not parse is a build defect.
		return contributions{}, err
	}
	// The Infisical webhook is buildInfisical's: routed always (DESIGN.md
	// §5), and without a secret it refuses every call.
	return contributions{routes: []api.Routes{doc}}, nil
}
