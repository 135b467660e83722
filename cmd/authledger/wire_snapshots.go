package main

import (
	"context"
	"time"

	"github.com/authledger/authledger/projections"
)

// snapshotEvery is how often the memory read models (revocations, the
// service registry, the sealing keys in use) are saved to the read-model
// database; a clean stop saves them once more. A start then folds only the
// ledger written since, not the whole of it.
const snapshotEvery = time.Minute

// restoreSnapshot loads p's last snapshot, if there is one that belongs to
// this ledger, and enrols p in the periodic save. A snapshot that cannot be
// loaded is logged and p folds from the start: snapshots only speed
// start-up up.
func (in *infraParts) restoreSnapshot(ctx context.Context, p projections.Snapshotter) {
	in.snapshotted = append(in.snapshotted, p)
	pos, ok, err := in.snapshots.Load(ctx, in.store, p)
	switch {
	case err != nil:
		in.log.Warn("memory snapshot not loaded; folding the ledger from the start", "projection", p.Name(), "err", err)
	case ok:
		in.log.Info("memory snapshot loaded", "projection", p.Name(), "position", pos)
	}
}

// snapshotTask saves every enrolled snapshot each snapshotEvery and when
// the server stops.
func snapshotTask(in *infraParts) task {
	return task{"memory snapshots", func(ctx context.Context) error {
		in.snapshots.SaveEvery(ctx, in.store, snapshotEvery, func(name string, err error) {
			in.log.Warn("memory snapshot not saved", "projection", name, "err", err)
		}, in.snapshotted...)
		return nil
	}}
}
