package main

import (
	"context"
	"fmt"
	"time"

	"authledger/readmodels/revocations"
)

// wireRevocations builds the in-memory revocation set (a.revocations) in a
// step of its own, before the keys step builds the verifier guarding
// authledger's own APIs and the tokens step builds the token service: both
// consult it, so a revoked token is refused everywhere, not only at
// introspection. It also builds the publisher the token service announces
// revocations with (a.revocationPublisher): a fan-out over a.bus that adds
// each revocation to this instance's set at once and hurries it to the
// others.
func wireRevocations(ctx context.Context, a *app) error {
	revs := revocations.New(nil)
	// Caught up before the server answers: a token revoked before this
	// start must be refused from the first request, not once a background
	// feed has caught up.
	if err := revs.CatchUp(ctx, a.store); err != nil {
		return fmt.Errorf("revocations: %w", err)
	}
	// The runner feeds it from then on (Apply skips what CatchUp folded)
	// and shows it in status, /readyz and metrics; a memory projection runs
	// on every instance, one store notification behind the ledger, like
	// Follow. Without a runner it follows the ledger feed itself.
	if a.runner != nil {
		if err := a.runner.Register(revs); err != nil {
			return fmt.Errorf("revocations: %w", err)
		}
		// Follow sweeps by itself; on the runner a quiet ledger would
		// never reach Apply's periodic sweep.
		a.background = append(a.background, func(ctx context.Context) error {
			revs.SweepEvery(ctx, time.Minute)
			return ctx.Err()
		})
	} else {
		a.background = append(a.background, func(ctx context.Context) error { return revs.Follow(ctx, a.store) })
	}
	fan := revocations.NewFanout(a.bus, a.bus, revs)
	// A Redis outage must not stop the service: the ledger feed still
	// delivers every revocation, only later.
	a.background = append(a.background, bestEffort(a.log, "revocations: bus fan-out", fan.Run))
	a.revocations = revs
	a.revocationPublisher = fan
	return nil
}
