package opsmetrics

import (
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// RegisterBuildInfo adds authledger_build_info{version, revision,
// goversion} = 1, read from the binary's embedded build information.
func RegisterBuildInfo(reg prometheus.Registerer) error {
	version, revision, goVersion := "unknown", "unknown", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "authledger_build_info", Help: "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "goversion": goVersion},
	})
	g.Set(1)
	return reg.Register(g)
}

// RegisterBreaker adds authledger_redis_breaker_state{state}: 1 for the
// Redis circuit breaker's current state (closed, half-open, open), read
// from state at scrape time.
func RegisterBreaker(reg prometheus.Registerer, state func() string) error {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "authledger_redis_breaker_state", Help: "1 for the Redis circuit breaker's current state (closed, half-open, open).",
	}, []string{"state"})
	return reg.Register(&breakerCollector{g: g, state: state})
}

type breakerCollector struct {
	g     *prometheus.GaugeVec
	state func() string
}

func (b *breakerCollector) Describe(ch chan<- *prometheus.Desc) { b.g.Describe(ch) }

func (b *breakerCollector) Collect(ch chan<- prometheus.Metric) {
	cur := b.state()
	for _, s := range []string{"closed", "half-open", "open"} {
		v := 0.0
		if s == cur {
			v = 1
		}
		b.g.WithLabelValues(s).Set(v)
	}
	b.g.Collect(ch)
}
