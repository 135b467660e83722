package commands_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/keyring"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/secrets"
	"github.com/authledger/authledger/secrets/local"
)

// clock is an injected clock tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	store   *memstore.Store
	secrets secrets.Provider
	clock   *clock
	keys    *commands.Keys
}

func newFixture(t *testing.T) *fixture { return newFixtureTB(t) }

func newFixtureTB(t testing.TB) *fixture {
	t.Helper()
	c := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	sp, err := local.Open(t.TempDir(), local.Options{MasterKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: memstore.New(c.Now), secrets: sp, clock: c}
	f.keys = f.newKeys(t, sp)
	return f
}

// newKeys is another instance on the same ledger and provider.
func (f *fixture) newKeys(t testing.TB, sp secrets.Provider) *commands.Keys {
	t.Helper()
	k, err := commands.NewKeys(commands.KeysConfig{Store: f.store, Secrets: sp, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (f *fixture) ring(t *testing.T) *keyring.Ring {
	t.Helper()
	r, err := f.keys.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestKeys(t *testing.T) {
	ctx := context.Background()
	meta := commands.Metadata{Actor: "test"}
	t.Run("the first tick on an empty ring activates a key at once", func(t *testing.T) {
		f := newFixture(t)
		res, err := f.keys.Tick(ctx, meta)
		if err != nil || res.Published == "" || res.Activated != res.Published {
			t.Fatalf("tick = %+v, %v", res, err)
		}
		a, ok := f.ring(t).Active()
		if !ok || a.KID != res.Published {
			t.Fatalf("active = %+v", a)
		}
		if _, err := f.secrets.GetVersion(ctx, a.Secret.Name, a.Secret.Version); err != nil {
			t.Fatalf("private key not in provider: %v", err)
		}
	})
	t.Run("the ledger records the public key and a reference, never the seed", func(t *testing.T) {
		f := newFixture(t)
		_, _ = f.keys.Tick(ctx, meta)
		a, _ := f.ring(t).Active()
		sec, _ := f.secrets.GetVersion(ctx, a.Secret.Name, a.Secret.Version)
		recs, _ := f.store.ReadAll(ctx, 0, 100)
		for _, r := range recs {
			for _, needle := range [][]byte{sec.Value.Bytes()} {
				if containsB64(r.Data, needle) {
					t.Fatalf("event %s holds private material", r.Type)
				}
			}
		}
	})
	t.Run("a scheduled rotation publishes a lead before the interval ends and activates after it", func(t *testing.T) {
		f := newFixture(t)
		first, _ := f.keys.Tick(ctx, meta)
		p := f.keys.Policy()
		f.clock.Add(p.RotationInterval - p.PublicationLead)
		res, err := f.keys.Tick(ctx, meta)
		if err != nil || res.Published == "" || res.Activated != "" {
			t.Fatalf("tick = %+v, %v", res, err)
		}
		f.clock.Add(p.PublicationLead)
		res2, err := f.keys.Tick(ctx, meta)
		if err != nil || res2.Activated != res.Published {
			t.Fatalf("tick = %+v, %v", res2, err)
		}
		old, _ := f.ring(t).Key(first.Published)
		if old.State != keyring.StateRetired {
			t.Fatalf("old key is %s", old.State)
		}
		f.clock.Add(p.RetirementTail)
		res3, _ := f.keys.Tick(ctx, meta)
		if len(res3.Dropped) != 1 || res3.Dropped[0] != first.Published {
			t.Fatalf("tick = %+v", res3)
		}
		if _, err := f.secrets.Get(ctx, commands.SigningKeySecretName(first.Published)); !errors.Is(err, secrets.ErrNotFound) {
			t.Fatalf("a dropped key's private half is still stored: %v", err)
		}
	})
	t.Run("eight instances ticking together produce exactly one new key", func(t *testing.T) {
		f := newFixture(t)
		_, _ = f.keys.Tick(ctx, meta)
		p := f.keys.Policy()
		f.clock.Add(p.RotationInterval - p.PublicationLead)
		var wg sync.WaitGroup
		published := make(chan string, 8)
		for range 8 {
			k := f.newKeys(t, f.secrets)
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := k.Tick(ctx, meta)
				if err != nil {
					t.Error(err)
				}
				if res.Published != "" {
					published <- res.Published
				}
			}()
		}
		wg.Wait()
		close(published)
		var n int
		for range published {
			n++
		}
		if n != 1 || len(f.ring(t).Keys()) != 2 {
			t.Fatalf("%d instances published, ring has %d keys", n, len(f.ring(t).Keys()))
		}
		names, _ := f.secrets.List(ctx, "signing-key/")
		if len(names) != 2 {
			t.Fatalf("losing instances left %d secrets, want 2", len(names))
		}
	})
	t.Run("an operator rotation while a key is pending is refused", func(t *testing.T) {
		f := newFixture(t)
		_, _ = f.keys.Tick(ctx, meta)
		if _, err := f.keys.Rotate(ctx, commands.RotateKeys{}, meta); err != nil {
			t.Fatal(err)
		}
		if _, err := f.keys.Rotate(ctx, commands.RotateKeys{}, meta); !errors.Is(err, keyring.ErrRotationPending) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("rotate immediately activates the new key at once", func(t *testing.T) {
		f := newFixture(t)
		_, _ = f.keys.Tick(ctx, meta)
		k, err := f.keys.Rotate(ctx, commands.RotateKeys{Immediately: true}, meta)
		if err != nil || k.State != keyring.StateActive {
			t.Fatalf("key = %+v, %v", k, err)
		}
	})
	t.Run("a failed rotation leaves the active key signing", func(t *testing.T) {
		f := newFixture(t)
		first, _ := f.keys.Tick(ctx, meta)
		broken := f.newKeys(t, failingProvider{f.secrets})
		if _, err := broken.Rotate(ctx, commands.RotateKeys{Immediately: true}, meta); !errors.Is(err, secrets.ErrUnavailable) {
			t.Fatalf("err = %v", err)
		}
		if a, _ := f.ring(t).Active(); a.KID != first.Published {
			t.Fatalf("active = %s", a.KID)
		}
	})
	t.Run("revoking the active key replaces it in the same append", func(t *testing.T) {
		f := newFixture(t)
		first, _ := f.keys.Tick(ctx, meta)
		res, err := f.keys.Revoke(ctx, commands.RevokeKey{KID: first.Published, Reason: "test"}, meta)
		if err != nil || res.Replacement == "" {
			t.Fatalf("revoke = %+v, %v", res, err)
		}
		if _, err := f.secrets.Get(ctx, commands.SigningKeySecretName(first.Published)); !errors.Is(err, secrets.ErrNotFound) {
			t.Fatalf("a revoked key's private half is still stored: %v", err)
		}
		r := f.ring(t)
		if a, _ := r.Active(); a.KID != res.Replacement {
			t.Fatalf("active = %s", a.KID)
		}
		for _, k := range r.Published() {
			if k.KID == first.Published {
				t.Fatal("revoked key still published")
			}
		}
	})
	t.Run("revoking an unknown key fails with the domain sentinel", func(t *testing.T) {
		f := newFixture(t)
		if _, err := f.keys.Revoke(ctx, commands.RevokeKey{KID: "nope"}, meta); !errors.Is(err, keyring.ErrUnknownKey) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestSchedulerCountsFailuresAndBacksOff(t *testing.T) {
	f := newFixture(t)
	keys := f.newKeys(t, failingProvider{f.secrets})
	failures := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
	ctx, cancel := context.WithCancel(context.Background())
	var waits []time.Duration
	s := commands.NewScheduler(commands.SchedulerConfig{
		Keys: keys, Failures: failures, Log: slog.New(slog.DiscardHandler), MinBackoff: time.Second, MaxBackoff: 4 * time.Second,
		After: func(d time.Duration) <-chan time.Time {
			waits = append(waits, d)
			if len(waits) == 5 {
				cancel()
			}
			ch := make(chan time.Time, 1)
			ch <- time.Time{}
			return ch
		},
	})
	if err := s.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits = %v, want %v", waits, want)
		}
	}
	var m dto.Metric
	if err := failures.Write(&m); err != nil {
		t.Fatal(err)
	}
	if got := m.GetCounter().GetValue(); got < 5 {
		t.Fatalf("failures = %v", got)
	}
}

// failingProvider is a provider whose writes are down (an outage).
type failingProvider struct{ secrets.Provider }

func (failingProvider) Put(context.Context, string, []byte) (string, error) {
	return "", secrets.ErrUnavailable
}
