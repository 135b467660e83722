package opsmetrics

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authledger/authledger/secrets"
)

// CountSecretErrors wraps p so that every failed call is counted in
// authledger_secret_provider_errors_total{op}, and
// authledger_secret_provider_up says whether the last call succeeded. A
// missing secret (secrets.ErrNotFound) is an answer, not a failure.
func CountSecretErrors(p secrets.Provider, reg prometheus.Registerer) (secrets.Provider, error) {
	w := &countingProvider{Provider: p, errs: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authledger_secret_provider_errors_total", Help: "Secret-provider calls that failed, by operation (get, put, delete, list).",
	}, []string{"op"})}
	w.up.Store(true)
	for _, op := range []string{"get", "put", "delete", "list"} {
		w.errs.WithLabelValues(op)
	}
	upGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "authledger_secret_provider_up", Help: "1 when the last secret-provider call succeeded, 0 after a failure.",
	}, func() float64 {
		if w.up.Load() {
			return 1
		}
		return 0
	})
	for _, c := range []prometheus.Collector{w.errs, upGauge} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return w, nil
}

type countingProvider struct {
	secrets.Provider
	errs *prometheus.CounterVec
	up   atomic.Bool
}

func (w *countingProvider) done(op string, err error) {
	if err != nil && !errors.Is(err, secrets.ErrNotFound) && !errors.Is(err, context.Canceled) {
		w.errs.WithLabelValues(op).Inc()
		w.up.Store(false)
		return
	}
	w.up.Store(true)
}

func (w *countingProvider) Put(ctx context.Context, name string, value []byte) (string, error) {
	v, err := w.Provider.Put(ctx, name, value)
	w.done("put", err)
	return v, err
}

func (w *countingProvider) Get(ctx context.Context, name string) (secrets.Secret, error) {
	s, err := w.Provider.Get(ctx, name)
	w.done("get", err)
	return s, err
}

func (w *countingProvider) GetVersion(ctx context.Context, name, version string) (secrets.Secret, error) {
	s, err := w.Provider.GetVersion(ctx, name, version)
	w.done("get", err)
	return s, err
}

func (w *countingProvider) Delete(ctx context.Context, name string) error {
	err := w.Provider.Delete(ctx, name)
	w.done("delete", err)
	return err
}

func (w *countingProvider) List(ctx context.Context, prefix string) ([]string, error) {
	n, err := w.Provider.List(ctx, prefix)
	w.done("list", err)
	return n, err
}
