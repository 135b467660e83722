package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/labstack/echo/v4"

	"authledger/api"
	"authledger/eventstore"
	"authledger/projections"
)

// wireProjections opens the read-model database and builds the projection
// runner (a.runner). It runs first so later steps can register their
// projections on a.runner (a.runner.DB() is the read-model database their
// readers query); the runner starts in a background task, after every step
// has run, and stops before the stores close.
func wireProjections(ctx context.Context, a *app) error {
	db, err := projections.Open(ctx, a.cfg.ReadModels)
	if err != nil {
		return fmt.Errorf("read models: %w", err)
	}
	a.onClose(db.Close)
	r, err := projections.New(projections.Config{
		Store:      a.store,
		DB:         db,
		Registerer: a.metrics,
		Logger:     a.log,
	})
	if err != nil {
		return err
	}
	a.runner = r
	a.ready = append(a.ready, api.ReadyCheck{Name: "projections", Check: r.Ready})
	a.background = append(a.background, r.Start)
	// Built when the server registers routes: the admin guard
	// (a.requireScope) comes from a later step, and without it the admin
	// endpoints are not registered at all.
	a.routes = append(a.routes, lazyRoutes(func() api.Routes {
		var authz echo.MiddlewareFunc
		if a.requireScope != nil {
			authz = a.requireScope(api.ProjectionsAdminScope)
		}
		return api.NewAdminProjections(projectionAdmin{r: r, store: a.store}, authz)
	}))
	return nil
}

// lazyRoutes builds its route group at registration time, after all wiring
// steps have run.
type lazyRoutes func() api.Routes

func (f lazyRoutes) Register(e *echo.Echo) { f().Register(e) }

// projectionAdmin adapts the runner and projection_state to the admin API.
type projectionAdmin struct {
	r     *projections.Runner
	store eventstore.Store
}

func (p projectionAdmin) ProjectionStatus(ctx context.Context) ([]api.ProjectionInfo, error) {
	ss, err := projections.ReadStatus(ctx, p.r.DB(), p.store, time.Now())
	if err != nil {
		return nil, err
	}
	out := make([]api.ProjectionInfo, 0, len(ss))
	for _, s := range ss {
		info := api.ProjectionInfo{
			Name: s.Name, Kind: s.Kind, State: s.State, Description: s.Describe(),
			Checkpoint: s.Checkpoint, Head: s.Head, LagEvents: s.LagEvents, LagSeconds: s.LagSeconds,
			Error: s.Error, ErrorPosition: s.ErrorPosition, Generation: s.Generation,
			Owner: s.Owner, OwnerAlive: s.Alive, RebuildRequested: s.RebuildRequested,
		}
		if s.Rebuild != nil {
			info.Rebuild = &api.RebuildProgress{Done: s.Rebuild.Done, Total: s.Rebuild.Total, EventsPerSec: s.Rebuild.Rate,
				ETASeconds: s.Rebuild.ETA.Seconds(), Error: s.RebuildError}
		}
		out = append(out, info)
	}
	return out, nil
}

func (p projectionAdmin) RequestRebuild(ctx context.Context, name string) error {
	err := p.r.RequestRebuild(ctx, name)
	switch {
	case errors.Is(err, projections.ErrUnknownProjection):
		return fmt.Errorf("%w: %w", api.ErrProjectionNotFound, err)
	case errors.Is(err, projections.ErrNotRebuildable):
		return fmt.Errorf("%w: %w", api.ErrProjectionNotRebuildable, err)
	}
	return err
}
