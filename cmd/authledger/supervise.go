package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// supervisor keeps serve's background tasks (ledger feeds, the key
// scheduler, Redis listeners) running. A task that fails — a PostgreSQL
// fail-over drops its connection, Redis restarts — is restarted with
// exponential backoff instead of taking the process down: every instance
// would otherwise exit at the same moment. While a task is down, /readyz
// says so, so a load balancer drains the instance rather than trusting stale
// read models.
type supervisor struct {
	log      *slog.Logger
	restarts *prometheus.CounterVec
	minWait  time.Duration
	maxWait  time.Duration

	mu     sync.Mutex
	failed map[string]error // task → last error, while it waits to restart
}

func newSupervisor(log *slog.Logger, reg prometheus.Registerer) *supervisor {
	s := &supervisor{
		log: log, minWait: 100 * time.Millisecond, maxWait: 30 * time.Second,
		failed: map[string]error{},
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authledger_background_task_restarts_total",
			Help: "Background tasks restarted after a failure, by task.",
		}, []string{"task"}),
	}
	reg.MustRegister(s.restarts)
	return s
}

// run calls task until ctx ends, restarting it after each failure. A task
// that returns nil has finished and is not restarted.
func (s *supervisor) run(ctx context.Context, name string, task func(context.Context) error) {
	wait := s.minWait
	s.restarts.WithLabelValues(name) // a series at 0 from the start, for alerts and panels
	for {
		start := time.Now()
		err := task(ctx)
		if err == nil || ctx.Err() != nil {
			s.clear(name)
			return
		}
		if time.Since(start) > s.maxWait {
			wait = s.minWait // it ran fine for a while: this is a new failure, not a crash loop
		}
		s.mu.Lock()
		s.failed[name] = err
		s.mu.Unlock()
		s.restarts.WithLabelValues(name).Inc()
		s.log.Error("background task failed; restarting", "task", name, "err", err, "retry_in", wait.String())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			s.clear(name)
			return
		case <-t.C:
		}
		s.clear(name) // running again; a new failure reports it again
		wait = min(wait*2, s.maxWait)
	}
}

func (s *supervisor) clear(name string) {
	s.mu.Lock()
	delete(s.failed, name)
	s.mu.Unlock()
}

// ready is the /readyz check: it fails while any task waits to restart.
func (s *supervisor) ready(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failed) == 0 {
		return nil
	}
	names := make([]string, 0, len(s.failed))
	for n := range s.failed {
		names = append(names, n)
	}
	sort.Strings(names)
	var errs []error
	for _, n := range names {
		errs = append(errs, fmt.Errorf("%s restarting after: %v", n, s.failed[n]))
	}
	return errors.Join(errs...)
}
