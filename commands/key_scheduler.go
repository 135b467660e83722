package commands

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// SchedulerConfig configures the key rotation loop of `serve`.
type SchedulerConfig struct {
	Keys *Keys
	// Every is the pause between successful ticks. Late activation is
	// always safe (the lead is a minimum), so a minute is plenty. Default 1 min.
	Every time.Duration
	// MinBackoff and MaxBackoff bound the doubling pause after a failed
	// tick. Defaults 1 s and 5 min.
	MinBackoff, MaxBackoff time.Duration
	// After is the timer; nil means time.After. Tests inject a fake clock.
	After func(time.Duration) <-chan time.Time
	// Failures counts failed ticks (nil: not counted).
	Failures prometheus.Counter
	// OnTick, if set, sees every tick's outcome (tests, logs).
	OnTick func(TickResult, error)
	Log    *slog.Logger
}

// Scheduler ticks the key ring on a timer. A failed tick leaves the ring as
// it was, so the active key keeps signing; it is counted and retried with
// backoff.
type Scheduler struct{ cfg SchedulerConfig }

// NewScheduler fills defaults.
func NewScheduler(cfg SchedulerConfig) *Scheduler {
	if cfg.Every <= 0 {
		cfg.Every = time.Minute
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(5*time.Minute, cfg.MinBackoff)
	}
	if cfg.After == nil {
		cfg.After = time.After
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Scheduler{cfg: cfg}
}

// FailuresCounter is the Prometheus counter the scheduler increments.
func FailuresCounter() prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{
		Name: "authledger_key_rotation_failures_total",
		Help: "Key ring scheduler ticks that failed (the active key kept signing).",
	})
}

// Run ticks until ctx ends; it only returns ctx.Err().
func (s *Scheduler) Run(ctx context.Context) error {
	backoff := s.cfg.MinBackoff
	meta := Metadata{Actor: "scheduler"}
	for {
		res, err := s.cfg.Keys.Tick(ctx, meta)
		if s.cfg.OnTick != nil {
			s.cfg.OnTick(res, err)
		}
		wait := s.cfg.Every
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			if s.cfg.Failures != nil {
				s.cfg.Failures.Inc()
			}
			s.cfg.Log.Warn("key rotation tick failed; the active key keeps signing", "err", err, "retry_in", backoff)
			wait = backoff
			backoff = min(backoff*2, s.cfg.MaxBackoff)
		default:
			backoff = s.cfg.MinBackoff
			if res.Published != "" || res.Activated != "" || len(res.Dropped) > 0 {
				s.cfg.Log.Info("key ring advanced", "published", res.Published, "activated", res.Activated, "dropped", res.Dropped)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.cfg.After(wait):
		}
	}
}
