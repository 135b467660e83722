package opsmetrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/authledger/authledger/domain/keyring"
	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/domain/token"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/internal/opsmetrics"
	"github.com/authledger/authledger/secrets"
)

func ev(t *testing.T, typ string, data any) eventstore.Event {
	t.Helper()
	b, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	return eventstore.Event{Type: typ, Data: b}
}

func TestTheLedgerDecoratorCountsWhatThisInstanceAppended(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := opsmetrics.NewLedgerMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Wrap(memstore.New(nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	appends := []eventstore.StreamAppend{
		{Stream: "token-a", Expected: eventstore.NoStream(), Events: []eventstore.Event{ev(t, token.TypeIssued, map[string]string{"class": "m2m"})}},
		{Stream: "token-b", Expected: eventstore.NoStream(), Events: []eventstore.Event{ev(t, token.TypeIssued, map[string]string{"class": "a-class-nobody-knows"})}},
		{Stream: "family-f", Expected: eventstore.NoStream(), Events: []eventstore.Event{
			ev(t, refreshtoken.TypeRotated, map[string]string{}), ev(t, refreshtoken.TypeReuseDetected, map[string]string{})}},
		{Stream: "keyring", Expected: eventstore.NoStream(), Events: []eventstore.Event{ev(t, keyring.TypeKeyRevoked, map[string]string{})}},
	}
	for _, a := range appends {
		if _, err := s.Append(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	// A stale expected version writes nothing and counts as a conflict.
	if _, err := s.Append(ctx, appends[0]); !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
		t.Fatalf("second append to token-a: %v", err)
	}
	m.BatchSize(3)

	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"m2m tokens", testutil.ToFloat64(mustVec(t, reg, "authledger_tokens_issued_total", "m2m")), 1},
		{"unknown class is other", testutil.ToFloat64(mustVec(t, reg, "authledger_tokens_issued_total", "other")), 1},
		{"refreshes", gather(t, reg, "authledger_token_refreshes_total"), 1},
		{"reuse detections", gather(t, reg, "authledger_refresh_token_reuse_detections_total"), 1},
		{"key revocations", testutil.ToFloat64(mustVec(t, reg, "authledger_key_rotation_events_total", "revoked")), 1},
		{"conflicts", testutil.ToFloat64(mustVec(t, reg, "authledger_ledger_append_errors_total", "conflict")), 1},
		{"head read at scrape", gather(t, reg, "authledger_ledger_head_position"), 5},
		{"append latency samples", gather(t, reg, "authledger_ledger_append_duration_seconds"), 5},
		{"batches", gather(t, reg, "authledger_ledger_group_commit_appends"), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

// mustVec finds the child of a counter vector by its one label value.
func mustVec(t *testing.T, reg *prometheus.Registry, name, label string) prometheus.Collector {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == label {
				c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x", Help: "x"})
				c.Add(m.GetCounter().GetValue())
				return c
			}
		}
	}
	t.Fatalf("%s{%s} not found", name, label)
	return nil
}

// gather is a series' value (a counter or gauge) or sample count (a
// histogram), summed over its children.
func gather(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		sum := 0.0
		for _, m := range f.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
		return sum
	}
	t.Fatalf("%s not gathered", name)
	return 0
}

type limiter struct{ ok bool }

func (l limiter) ChargeFailure(context.Context, string, string, time.Time) (time.Duration, bool) {
	return time.Second, l.ok
}
func (l limiter) SpendClass(context.Context, string, string, time.Time) (time.Duration, bool) {
	return time.Second, l.ok
}

func TestRateLimitRefusalsAreCountedByBudgetAndGrantsAreNot(t *testing.T) {
	t.Parallel()
	for _, ok := range []bool{true, false} {
		reg := prometheus.NewRegistry()
		l, err := opsmetrics.CountRefusals(limiter{ok: ok}, reg)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		l.ChargeFailure(ctx, "c", "a", time.Now())
		l.SpendClass(ctx, "c", "token", time.Now())
		l.SpendClass(ctx, "c", "token", time.Now())
		want := map[bool]float64{true: 0, false: 3}[ok]
		if got := gather(t, reg, "authledger_rate_limit_refusals_total"); got != want {
			t.Errorf("limiter ok=%v: %v refusals counted, want %v", ok, got, want)
		}
	}
}

type provider struct {
	secrets.Provider
	err error
}

func (p provider) Get(context.Context, string) (secrets.Secret, error) {
	return secrets.Secret{}, p.err
}

func TestSecretProviderFailuresCountAndAMissingSecretDoesNot(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		err    error
		errors float64
		up     float64
	}{
		{"a found secret", nil, 0, 1},
		{"a missing secret is an answer", secrets.ErrNotFound, 0, 1},
		{"an outage", errors.New("connection refused"), 1, 0},
	} {
		reg := prometheus.NewRegistry()
		p, err := opsmetrics.CountSecretErrors(provider{err: c.err}, reg)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = p.Get(context.Background(), "k")
		if got := gather(t, reg, "authledger_secret_provider_errors_total"); got != c.errors {
			t.Errorf("%s: %v errors, want %v", c.name, got, c.errors)
		}
		if got := gather(t, reg, "authledger_secret_provider_up"); got != c.up {
			t.Errorf("%s: up %v, want %v", c.name, got, c.up)
		}
	}
}
