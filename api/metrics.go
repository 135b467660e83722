package api

import (
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics instruments every request by route template (never the raw path,
// which would put token ids into label values) and serves /metrics.
type Metrics struct {
	gatherer prometheus.Gatherer
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// dependencyErrors counts requests that failed on a dependency outage
	// (commands.Outage), by dependency: ledger, secrets, session_store.
	dependencyErrors *prometheus.CounterVec
	// overloaded counts requests refused by the in-flight cap (they never
	// reach the route middleware that counts requests).
	overloaded prometheus.Counter
}

// NewMetrics registers the HTTP metrics on reg.
func NewMetrics(reg *prometheus.Registry) *Metrics {
	m := &Metrics{
		gatherer: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authledger_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "authledger_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method"}),
		dependencyErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authledger_dependency_errors_total", Help: "Requests answered 503 because a dependency (ledger, secrets, session_store) was unavailable.",
		}, []string{"dependency"}),
	}
	m.overloaded = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "authledger_http_overload_refusals_total", Help: "Requests refused with 503 and Retry-After because the instance was at its in-flight cap.",
	})
	reg.MustRegister(m.requests, m.duration, m.dependencyErrors, m.overloaded)
	for _, d := range []string{"ledger", "secrets", "session_store"} {
		m.dependencyErrors.WithLabelValues(d) // at 0 from the start, for alerts and panels
	}
	return m
}

// dependencyError counts one request failed by an outage of dependency
// (nil-safe: a server built without metrics counts nothing).
func (m *Metrics) dependencyError(dependency string) {
	if m == nil {
		return
	}
	m.dependencyErrors.WithLabelValues(dependency).Inc()
}

// overload counts one request refused by the in-flight cap (nil-safe).
func (m *Metrics) overload() {
	if m == nil {
		return
	}
	m.overloaded.Inc()
}

// Middleware records each request once it has been answered.
func (m *Metrics) Middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err) // let the error handler write the status before it is read
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		method := c.Request().Method
		m.requests.WithLabelValues(route, method, strconv.Itoa(c.Response().Status)).Inc()
		m.duration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
		return nil
	}
}

// Register serves GET /metrics.
func (m *Metrics) Register(e *echo.Echo) {
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{})))
}
