package commands_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/keyring"
)

// TestSchedulerRotatesDailyOverSimulatedDays runs the real loop on the
// injected clock (each wait advances it) for three days and checks the
// ring's invariants after every tick.
func TestSchedulerRotatesDailyOverSimulatedDays(t *testing.T) {
	f := newFixture(t)
	p := f.keys.Policy()
	ctx, cancel := context.WithCancel(context.Background())
	end := f.clock.Now().Add(72 * time.Hour)
	activated := 0
	s := commands.NewScheduler(commands.SchedulerConfig{
		Keys: f.keys, Every: 5 * time.Minute, Log: slog.New(slog.DiscardHandler),
		After: func(d time.Duration) <-chan time.Time {
			f.clock.Add(d)
			if !f.clock.Now().Before(end) {
				// A timer that never fires: Run's select must see only the
				// cancellation, or it may start one more tick on a cancelled
				// context at random.
				cancel()
				return nil
			}
			ch := make(chan time.Time, 1)
			ch <- f.clock.Now()
			return ch
		},
		OnTick: func(res commands.TickResult, err error) {
			if err != nil {
				t.Errorf("tick: %v", err)
				return
			}
			if res.Activated != "" {
				activated++
			}
			r := f.ring(t)
			act, ok := r.Active()
			if !ok {
				t.Fatalf("no active key at %s", f.clock.Now())
			}
			if !act.ActivatedAt.IsZero() && act.ActivatedAt.Sub(act.PublishedAt) != 0 && act.ActivatedAt.Sub(act.PublishedAt) < p.PublicationLead {
				t.Fatalf("key %s signed %s after publication, lead is %s", act.KID, act.ActivatedAt.Sub(act.PublishedAt), p.PublicationLead)
			}
			for _, k := range r.Keys() {
				if k.State == keyring.StateDropped && k.EndedAt.Sub(k.RetiredAt) < p.RetirementTail {
					t.Fatalf("key %s left the JWKS %s after retiring, tail is %s", k.KID, k.EndedAt.Sub(k.RetiredAt), p.RetirementTail)
				}
			}
			if n := len(r.Published()); n > 3 {
				t.Fatalf("%d keys published at once", n)
			}
		},
	})
	_ = s.Run(ctx)
	// The first key at start, then a successor after each full day (the
	// third successor is due just after the 72nd hour).
	if activated != 3 {
		t.Fatalf("%d activations in three days, want 3", activated)
	}
}
