package services

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/projections"
)

// Name is the projection name; a new suffix rebuilds from position 1.
const Name = "services.v1"

// Registry is the in-memory registry. It implements
// projections.MemoryProjection; Follow runs it straight off the ledger feed
// where no projection runner is wired (the CLI, tests).
//
// Views are copy-on-write: Apply folds into a fresh copy and swaps the
// pointer, so a reader's view never changes under it and lookups need no
// clone on the hot path.
type Registry struct {
	mu       sync.RWMutex
	clients  map[client.ID]*client.View
	position uint64
	advanced *eventstore.Signal
}

// New returns an empty registry.
func New() *Registry {
	return &Registry{clients: map[client.ID]*client.View{}, advanced: eventstore.NewSignal()}
}

// Name implements projections.Projection.
func (r *Registry) Name() string { return Name }

// Handles implements projections.Projection.
func (r *Registry) Handles() []string { return slices.Clone(client.EventTypes) }

// Apply folds one record; records of other aggregates only move the
// position, so WaitFor works with any ledger position.
func (r *Registry) Apply(_ context.Context, rec eventstore.Record) error {
	if !strings.HasPrefix(rec.Stream, client.StreamPrefix) || !strings.HasPrefix(rec.Type, "client.") {
		r.Advance(rec.Position)
		return nil
	}
	e, err := client.Decode(rec.Type, rec.Data)
	if err != nil {
		return fmt.Errorf("services: position %d: %w", rec.Position, err)
	}
	id := client.ID(strings.TrimPrefix(rec.Stream, client.StreamPrefix))
	r.mu.Lock()
	var next client.View
	if cur := r.clients[id]; cur != nil {
		if rec.Version <= cur.Version {
			r.mu.Unlock()
			r.Advance(rec.Position)
			return nil // already folded: a replay after a restart of the feed
		}
		next = cur.Clone()
	}
	next.Fold(e)
	r.clients[id] = &next
	r.mu.Unlock()
	r.Advance(rec.Position)
	return nil
}

// Advance moves the position past a record the registry does not handle
// (projections.Advancer), so WaitFor works with any ledger position.
func (r *Registry) Advance(pos uint64) {
	r.mu.Lock()
	if pos > r.position {
		r.position = pos
	}
	r.mu.Unlock()
	r.advanced.Notify()
}

// Client returns the current view of id. The view is shared and must not
// be modified.
func (r *Registry) Client(_ context.Context, id client.ID) (client.View, bool, error) {
	r.mu.RLock()
	v := r.clients[id]
	r.mu.RUnlock()
	if v == nil || v.Version == 0 {
		return client.View{}, false, nil
	}
	return *v, true, nil
}

// List returns every client ordered by id.
func (r *Registry) List(_ context.Context) ([]client.View, error) {
	r.mu.RLock()
	out := make([]client.View, 0, len(r.clients))
	for _, v := range r.clients {
		out = append(out, v.Clone())
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b client.View) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return out, nil
}

// Position is the last ledger position folded.
func (r *Registry) Position() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.position
}

// WaitFor blocks until the registry has folded position pos, giving a
// command's caller read-your-writes. On the projection runner only client
// events reach Apply, so pos must be the position of one (as a services
// command returns); under Follow any ledger position works.
func (r *Registry) WaitFor(ctx context.Context, pos uint64) error {
	for {
		wake := r.advanced.Wait()
		if r.Position() >= pos {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		}
	}
}

// Follow feeds the registry from the ledger until ctx ends: stored records
// first, then live appends as the store notifies them.
func (r *Registry) Follow(ctx context.Context, store eventstore.Store) error {
	return projections.Follow(ctx, store, r, r.Position())
}

// CatchUp folds every stored record once and returns; the CLI uses it to
// read the registry without following.
func (r *Registry) CatchUp(ctx context.Context, store eventstore.Store) error {
	_, err := projections.CatchUp(ctx, store, r, r.Position())
	return err
}
