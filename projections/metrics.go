package projections

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var allStates = []string{StateWaiting, StateRunning, StateStopped, StateRetrying, "rebuilding"}

type metrics struct {
	checkpoint *prometheus.GaugeVec
	head       prometheus.Gauge
	lagEvents  *prometheus.GaugeVec
	lagSeconds *prometheus.GaugeVec
	state      *prometheus.GaugeVec
	owned      *prometheus.GaugeVec
	rebuild    *prometheus.GaugeVec

	mu     sync.Mutex
	lastAt map[string]time.Time
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		checkpoint: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "authledger", Subsystem: "projection", Name: "checkpoint",
			Help: "Last ledger position the projection has applied on this instance."}, []string{"projection"}),
		head: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "authledger", Subsystem: "projection", Name: "ledger_head",
			Help: "Ledger head position as last seen by the projection runner."}),
		lagEvents: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "authledger", Subsystem: "projection", Name: "lag_events",
			Help: "Ledger events the projection has not applied yet (projections this instance runs)."}, []string{"projection"}),
		lagSeconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "authledger", Subsystem: "projection", Name: "lag_seconds",
			Help: "Recorded-time distance between the ledger head and the projection's checkpoint."}, []string{"projection"}),
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "authledger", Subsystem: "projection", Name: "state",
			Help: "1 for the projection's current state (waiting, running, stopped, retrying, rebuilding) on this instance."}, []string{"projection", "state"}),
		owned: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "authledger", Subsystem: "projection", Name: "owned",
			Help: "1 when this instance runs the projection (holds its lock)."}, []string{"projection"}),
		rebuild: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "authledger", Subsystem: "projection", Name: "rebuild_progress_ratio",
			Help: "Progress of a running rebuild, 0 to 1."}, []string{"projection"}),
		lastAt: map[string]time.Time{},
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.checkpoint, m.head, m.lagEvents, m.lagSeconds, m.state, m.owned, m.rebuild} {
			if err := reg.Register(c); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					return nil, err
				}
			}
		}
	}
	return m, nil
}

func (m *metrics) setState(name, state string) {
	for _, s := range allStates {
		v := 0.0
		if s == state {
			v = 1
		}
		m.state.WithLabelValues(name, s).Set(v)
	}
}

func (m *metrics) lagAt(name string, at time.Time) {
	if at.IsZero() {
		return
	}
	m.mu.Lock()
	m.lastAt[name] = at
	m.mu.Unlock()
}

// metricsLoop refreshes head and lag gauges, and writes the state rows of
// memory projections (their progress is per instance, never checkpointed).
func (r *Runner) metricsLoop(ctx context.Context, ws []*worker) {
	t := time.NewTicker(r.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		head, err := r.cfg.Store.Head(ctx)
		if err != nil {
			continue
		}
		r.metrics.head.Set(float64(head.Position))
		for _, w := range ws {
			owned := w.owned.Load()
			ov := 0.0
			if owned {
				ov = 1
			}
			r.metrics.owned.WithLabelValues(w.name).Set(ov)
			if !owned {
				continue
			}
			cp := w.checkpoint.Load()
			lag := 0.0
			secs := 0.0
			if head.Position > cp {
				lag = float64(head.Position - cp)
				r.metrics.mu.Lock()
				at := r.metrics.lastAt[w.name]
				r.metrics.mu.Unlock()
				if !at.IsZero() && head.RecordedAt.After(at) {
					secs = head.RecordedAt.Sub(at).Seconds()
				}
			}
			r.metrics.lagEvents.WithLabelValues(w.name).Set(lag)
			r.metrics.lagSeconds.WithLabelValues(w.name).Set(secs)
			w.smu.Lock()
			rebuilding, p := w.rebuilding, w.progress
			w.smu.Unlock()
			if rebuilding && p.Total > 0 {
				r.metrics.rebuild.WithLabelValues(w.name).Set(float64(p.Done) / float64(p.Total))
				r.metrics.state.WithLabelValues(w.name, "rebuilding").Set(1)
			} else {
				r.metrics.rebuild.WithLabelValues(w.name).Set(0)
				r.metrics.state.WithLabelValues(w.name, "rebuilding").Set(0)
			}
			if w.kind == kindMemory {
				st, msg, pos := w.snapshot()
				r.metrics.mu.Lock()
				at := r.metrics.lastAt[w.name]
				r.metrics.mu.Unlock()
				err := r.state.recordMemory(ctx, w.name, r.cfg.Instance, memoryRow{checkpoint: cp, checkpointAt: at, state: st, err: msg, errPos: pos})
				if err != nil && ctx.Err() == nil {
					r.log.Warn("memory projection state not recorded", "projection", w.name, "err", err)
				}
			}
		}
	}
}
