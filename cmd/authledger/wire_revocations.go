package main

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/client/verifier"
	cmds "github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/internal/compose"
	"github.com/authledger/authledger/readmodels/revocations"
)

// revocationParts are the in-memory revocation set every bearer check
// consults, the publisher commands announce revocations with, and the
// verifier of tokens presented to authledger's own APIs.
type revocationParts struct {
	contributions
	set *revocations.Set
	// publisher adds a revocation to this instance's set at once and
	// hurries it to the others over the bus.
	publisher cmds.RevocationPublisher
	// bearer verifies tokens whose aud holds the issuer URL, unless revoked
	// (by jti, sid or family).
	bearer api.BearerVerifier
}

// buildRevocations builds the set, caught up before the server answers (a
// token revoked before this start is refused from the first request), the
// bus fan-out, the bearer verifier and the audit checkpoint route it
// guards.
func buildRevocations(ctx context.Context, in *infraParts, keys keyParts) (revocationParts, error) {
	revs := revocations.New(nil)
	in.restoreSnapshot(ctx, revs) // then CatchUp folds only what came after it
	if err := revs.CatchUp(ctx, in.store); err != nil {
		return revocationParts{}, fmt.Errorf("revocations: %w", err)
	}
	// The runner feeds it from then on (Apply skips what CatchUp folded)
	// and shows it in status, /readyz and metrics.
	if err := in.runner.Register(revs); err != nil {
		return revocationParts{}, fmt.Errorf("revocations: %w", err)
	}
	// What a stopping instance must answer at once (the SIGTERM drain).
	in.metrics.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "authledger_revocation_long_polls",
		Help: "GET /v1/revocations long polls waiting for news now."}, func() float64 { return float64(revs.Parked()) }))
	fan := revocations.NewFanout(in.bus, in.bus, revs)
	own, err := verifier.New(verifier.Config{Issuer: in.cfg.Issuer, Audiences: []string{in.cfg.Issuer}, Keys: keys.model, Leeway: 5 * time.Second, Revocation: revs, Observer: in.verifications})
	if err != nil {
		return revocationParts{}, err
	}
	bearer := compose.BearerVerifier(own)
	checkpoint := func(ctx context.Context) (string, error) {
		head, err := in.store.Head(ctx)
		if err != nil {
			return "", err
		}
		jws, err := keys.signer.SignCheckpoint(ctx, head)
		if err == nil {
			in.ops.checkpoints.Signed(time.Now())
		}
		return jws, err
	}
	return revocationParts{set: revs, publisher: fan, bearer: bearer, contributions: contributions{
		tasks: []task{
			// On the runner a quiet ledger would never reach Apply's
			// periodic sweep.
			{"revocation sweep", func(ctx context.Context) error {
				revs.SweepEvery(ctx, time.Minute)
				return ctx.Err()
			}},
			// A Redis outage must not stop the service: the ledger feed
			// still delivers every revocation, only later.
			{"revocation fan-out", bestEffort(in.log, "revocations: bus fan-out", fan.Run)},
		},
		routes: []api.Routes{api.AuditCheckpoint{Sign: checkpoint, Guard: api.RequireScope(bearer, api.AuditReadScope)}},
	}}, nil
}
