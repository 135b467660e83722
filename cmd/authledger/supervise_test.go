package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestSupervisorRestartsAFailedTaskUntilItRuns(t *testing.T) {
	s := newSupervisor(slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	s.minWait, s.maxWait = time.Millisecond, 4*time.Millisecond

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int32
	recovered := make(chan struct{})
	task := func(ctx context.Context) error {
		if calls.Add(1) <= 3 {
			return errors.New("read: connection reset")
		}
		close(recovered)
		<-ctx.Done()
		return ctx.Err()
	}
	done := make(chan struct{})
	go func() { s.run(ctx, "feed", task); close(done) }()

	select {
	case <-recovered:
	case <-time.After(10 * time.Second):
		t.Fatal("the task was not restarted after failing")
	}
	if err := s.ready(ctx); err != nil {
		t.Fatalf("not ready while the restarted task runs: %v", err)
	}
	if got := testutil.ToFloat64(s.restarts.WithLabelValues("feed")); got != 3 {
		t.Fatalf("restarts metric %v, want 3", got)
	}
	cancel()
	<-done
}

func TestSupervisorReportsAFailedTaskWhileItWaitsToRestart(t *testing.T) {
	s := newSupervisor(slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	s.minWait = time.Hour // stay in the back-off for the whole test
	ctx, cancel := context.WithCancel(context.Background())
	failed := make(chan struct{})
	done := make(chan struct{})
	go func() {
		s.run(ctx, "feed", func(context.Context) error { close(failed); return errors.New("read: connection reset") })
		close(done)
	}()
	<-failed
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if err = s.ready(ctx); err != nil {
			break
		}
	}
	if err == nil || !strings.Contains(err.Error(), "feed restarting after: read: connection reset") {
		t.Fatalf("ready during the back-off: %v", err)
	}
	cancel()
	<-done
	if err := s.ready(context.Background()); err != nil {
		t.Fatalf("a stopped supervisor still reports: %v", err)
	}
}

func TestSupervisorDoesNotRestartAFinishedTask(t *testing.T) {
	s := newSupervisor(slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	var calls atomic.Int32
	s.run(context.Background(), "once", func(context.Context) error { calls.Add(1); return nil })
	if calls.Load() != 1 {
		t.Fatalf("a task that returned nil ran %d times", calls.Load())
	}
}
