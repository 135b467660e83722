package opsmetrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authledger/authledger/domain/keyring"
)

// KeyRing is what the signing-key series read: the JWKS model's keys and
// its served/not-ready counts (readmodels/jwks.Model).
type KeyRing interface {
	Keys() []keyring.Key
	Stats() (served, unready int64)
}

// RegisterKeys adds the signing-key and JWKS-cache series, read from ring
// at scrape time:
//   - authledger_signing_keys{state}: keys per state (published is the next
//     key);
//   - authledger_signing_key_next_due_timestamp_seconds: when the next key
//     must be published (the active key's activation + interval - lead);
//     the "no next key" alert compares it with time();
//   - authledger_jwks_cache_hits_total / _misses_total and
//     authledger_jwks_cache_hit_ratio: JWKS answers served from the
//     in-memory bytes versus answers that found the model not ready.
func RegisterKeys(reg prometheus.Registerer, ring KeyRing, p keyring.Policy) error {
	return reg.Register(&keysCollector{ring: ring, p: p,
		keys:  prometheus.NewDesc("authledger_signing_keys", "Signing keys in the ring by state (published: the next key, in the JWKS before it signs).", []string{"state"}, nil),
		due:   prometheus.NewDesc("authledger_signing_key_next_due_timestamp_seconds", "Unix time by which the next signing key is due to be published.", nil, nil),
		hits:  prometheus.NewDesc("authledger_jwks_cache_hits_total", "JWKS answers served from the in-memory key set.", nil, nil),
		miss:  prometheus.NewDesc("authledger_jwks_cache_misses_total", "JWKS requests that found no key set folded yet (answered 503).", nil, nil),
		ratio: prometheus.NewDesc("authledger_jwks_cache_hit_ratio", "Hits over hits plus misses since start (1 before any request).", nil, nil),
	})
}

type keysCollector struct {
	ring                         KeyRing
	p                            keyring.Policy
	keys, due, hits, miss, ratio *prometheus.Desc
}

var keyStates = []keyring.State{keyring.StatePublished, keyring.StateActive, keyring.StateRetired, keyring.StateRevoked}

func (c *keysCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.keys, c.due, c.hits, c.miss, c.ratio} {
		ch <- d
	}
}

func (c *keysCollector) Collect(ch chan<- prometheus.Metric) {
	counts := map[keyring.State]int{}
	var activated time.Time
	for _, k := range c.ring.Keys() {
		counts[k.State]++
		if k.State == keyring.StateActive && k.ActivatedAt.After(activated) {
			activated = k.ActivatedAt
		}
	}
	for _, s := range keyStates {
		ch <- prometheus.MustNewConstMetric(c.keys, prometheus.GaugeValue, float64(counts[s]), string(s))
	}
	if !activated.IsZero() {
		due := activated.Add(c.p.RotationInterval - c.p.PublicationLead)
		ch <- prometheus.MustNewConstMetric(c.due, prometheus.GaugeValue, float64(due.UnixMilli())/1000)
	}
	served, unready := c.ring.Stats()
	ch <- prometheus.MustNewConstMetric(c.hits, prometheus.CounterValue, float64(served))
	ch <- prometheus.MustNewConstMetric(c.miss, prometheus.CounterValue, float64(unready))
	ratio := 1.0
	if total := served + unready; total > 0 {
		ratio = float64(served) / float64(total)
	}
	ch <- prometheus.MustNewConstMetric(c.ratio, prometheus.GaugeValue, ratio)
}
