package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/projections"
)

// buildProjections adds the projections admin API, guarded by the admin
// scope of the clients part, and the task that runs the runner: every
// other part has registered its projections by now.
func buildProjections(in *infraParts, clients clientParts) contributions {
	r := in.runner
	return contributions{
		routes: []api.Routes{api.NewAdminProjections(projectionAdmin{r: r, store: in.store}, clients.requireScope(api.ProjectionsAdminScope))},
		ready:  []api.ReadyCheck{{Name: "projections", Check: r.Ready}},
		tasks:  []task{{"projection runner", r.Start}},
	}
}

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
