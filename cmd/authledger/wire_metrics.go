package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authledger/authledger/internal/opsmetrics"
	"github.com/authledger/authledger/readmodels/sessions"
)

// opsParts are the operational series that decorate ports rather than
// belong to one part (internal/opsmetrics; docs/operations.md lists every
// series /metrics serves).
type opsParts struct {
	ledger      *opsmetrics.LedgerMetrics
	checkpoints *opsmetrics.Checkpoints
}

func newOps(reg *prometheus.Registry) (opsParts, error) {
	if err := opsmetrics.RegisterBuildInfo(reg); err != nil {
		return opsParts{}, err
	}
	lm, err := opsmetrics.NewLedgerMetrics(reg)
	if err != nil {
		return opsParts{}, err
	}
	cp, err := opsmetrics.NewCheckpoints(reg)
	if err != nil {
		return opsParts{}, err
	}
	return opsParts{ledger: lm, checkpoints: cp}, nil
}

// registerActiveSessions counts the active-sessions read model at scrape
// time.
func registerActiveSessions(in *infraParts) error {
	db := in.runner.DB().DB
	return opsmetrics.RegisterActiveSessions(in.metrics, func(ctx context.Context) (int64, error) {
		return sessions.CountActive(ctx, db, time.Now())
	})
}
