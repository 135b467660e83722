package opsmetrics

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RegisterActiveSessions adds authledger_active_sessions, counted by count
// (the active-sessions read model) at scrape time with a short deadline; a
// read model that does not answer yields no sample rather than a stale one.
func RegisterActiveSessions(reg prometheus.Registerer, count func(ctx context.Context) (int64, error)) error {
	return reg.Register(&countCollector{count: count, desc: prometheus.NewDesc("authledger_active_sessions",
		"Sessions started and neither ended nor expired, from the active-sessions read model (fleet-wide).", nil, nil)})
}

type countCollector struct {
	count func(ctx context.Context) (int64, error)
	desc  *prometheus.Desc
}

func (c *countCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *countCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n, err := c.count(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n))
}

// Checkpoints counts signed checkpoints and remembers when the last one
// was signed (authledger_audit_checkpoints_signed_total and
// authledger_audit_checkpoint_last_timestamp_seconds).
type Checkpoints struct {
	signed prometheus.Counter
	last   atomic.Int64 // unix milliseconds; 0 = none since start
}

// NewCheckpoints registers the checkpoint series on reg.
func NewCheckpoints(reg prometheus.Registerer) (*Checkpoints, error) {
	c := &Checkpoints{signed: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "authledger_audit_checkpoints_signed_total", Help: "Ledger checkpoints this instance signed.",
	})}
	last := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "authledger_audit_checkpoint_last_timestamp_seconds", Help: "Unix time of the last checkpoint this instance signed (0: none since start).",
	}, func() float64 { return float64(c.last.Load()) / 1000 })
	for _, col := range []prometheus.Collector{c.signed, last} {
		if err := reg.Register(col); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Signed records one checkpoint signed at t.
func (c *Checkpoints) Signed(t time.Time) {
	c.signed.Inc()
	c.last.Store(t.UnixMilli())
}
