package infisical

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
)

type metrics struct {
	calls       *prometheus.CounterVec
	cache       *prometheus.CounterVec
	state       prometheus.Gauge
	transitions *prometheus.CounterVec
}

// newMetrics registers on reg when it is not nil; a second provider on the
// same registry reuses the first one's collectors.
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "authledger_infisical_calls_total",
			Help: "Calls to Infisical by operation and outcome (ok, not_found, denied, unavailable, breaker_open)."}, []string{"op", "outcome"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "authledger_infisical_cache_total",
			Help: "Secret reads by cache result: hit, miss, or stale (served from cache while Infisical failed)."}, []string{"result"}),
		state: prometheus.NewGauge(prometheus.GaugeOpts{Name: "authledger_infisical_breaker_state",
			Help: "The Infisical circuit breaker: 0 closed, 1 half-open, 2 open."}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "authledger_infisical_breaker_transitions_total",
			Help: "Circuit breaker state changes by the state entered."}, []string{"to"}),
	}
	if reg != nil {
		m.calls = register(reg, m.calls)
		m.cache = register(reg, m.cache)
		m.state = register(reg, m.state)
		m.transitions = register(reg, m.transitions)
	}
	return m
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}

func (m *metrics) breaker(to gobreaker.State) {
	switch to {
	case gobreaker.StateClosed:
		m.state.Set(0)
	case gobreaker.StateHalfOpen:
		m.state.Set(1)
	case gobreaker.StateOpen:
		m.state.Set(2)
	}
	m.transitions.WithLabelValues(to.String()).Inc()
}

func (m *metrics) call(op string, err error) {
	outcome := "ok"
	switch s := status(err); {
	case err == nil:
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		outcome = "breaker_open"
	case s == 404:
		outcome = "not_found"
	case s >= 400 && s < 500 && s != 429:
		outcome = "denied"
	default:
		outcome = "unavailable"
	}
	m.calls.WithLabelValues(op, outcome).Inc()
}
