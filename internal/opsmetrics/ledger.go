package opsmetrics

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authledger/authledger/domain/keyring"
	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/domain/token"
	"github.com/authledger/authledger/eventstore"
)

// keyEvents names the key-lifecycle label of each keyring event.
var keyEvents = map[string]string{
	keyring.TypeKeyPublished: "published",
	keyring.TypeKeyActivated: "activated",
	keyring.TypeKeyRetired:   "retired",
	keyring.TypeKeyDropped:   "dropped",
	keyring.TypeKeyRevoked:   "revoked",
}

// tokenClasses bounds the class label: a class the domain does not know
// is counted as "other" rather than minting a series.
var tokenClasses = map[token.ClassName]bool{token.Access: true, token.M2M: true, token.Session: true, token.Refresh: true}

// LedgerMetrics are the ledger's series. Build one with NewLedgerMetrics,
// pass BatchSize to the adapter's group-commit hook and wrap the store with
// Wrap.
type LedgerMetrics struct {
	appendSeconds  prometheus.Histogram
	appendErrors   *prometheus.CounterVec
	batch          prometheus.Histogram
	events         *prometheus.CounterVec
	refreshes      prometheus.Counter
	reuse          prometheus.Counter
	keyEvents      *prometheus.CounterVec
	issued         *prometheus.CounterVec
	sessionsStart  prometheus.Counter
	sessionsEnded  prometheus.Counter
	headCollector  *headCollector
	registerer     prometheus.Registerer
	headRegistered bool
}

// NewLedgerMetrics registers the ledger series on reg.
func NewLedgerMetrics(reg prometheus.Registerer) (*LedgerMetrics, error) {
	m := &LedgerMetrics{
		appendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "authledger_ledger_append_duration_seconds", Help: "Latency of one atomic ledger append as the caller sees it, group-commit wait included.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		appendErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authledger_ledger_append_errors_total", Help: "Ledger appends that wrote nothing, by kind (conflict: a stale expected version; error: the store failed).",
		}, []string{"kind"}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "authledger_ledger_group_commit_appends", Help: "Appends committed together in one group-commit transaction.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authledger_ledger_events_appended_total", Help: "Events this instance appended to the ledger, by event type.",
		}, []string{"type"}),
		refreshes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authledger_token_refreshes_total", Help: "Refresh tokens rotated (refresh_token grants that issued a successor).",
		}),
		reuse: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authledger_refresh_token_reuse_detections_total", Help: "Superseded refresh tokens presented again; each one revoked its family.",
		}),
		keyEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authledger_key_rotation_events_total", Help: "Signing-key lifecycle events this instance recorded (published, activated, retired, dropped, revoked).",
		}, []string{"event"}),
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authledger_tokens_issued_total", Help: "JWTs signed, by token class (m2m: client_credentials; access: user access tokens).",
		}, []string{"class"}),
		sessionsStart: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authledger_sessions_started_total", Help: "Sessions started.",
		}),
		sessionsEnded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authledger_sessions_ended_total", Help: "Sessions ended (logout, revocation, family revocation).",
		}),
		registerer: reg,
	}
	for _, e := range keyEvents {
		m.keyEvents.WithLabelValues(e)
	}
	m.issued.WithLabelValues(string(token.M2M))
	m.issued.WithLabelValues(string(token.Access))
	m.appendErrors.WithLabelValues("conflict")
	m.appendErrors.WithLabelValues("error")
	for _, c := range []prometheus.Collector{m.appendSeconds, m.appendErrors, m.batch, m.events, m.refreshes, m.reuse,
		m.keyEvents, m.issued, m.sessionsStart, m.sessionsEnded} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// BatchSize records one group-commit transaction of n appends; it is the
// adapters' OnBatch hook.
func (m *LedgerMetrics) BatchSize(n int) { m.batch.Observe(float64(n)) }

// Wrap returns s instrumented, and registers the head gauge that reads
// s.Head at scrape time (so it shows every instance's appends, not only
// this one's). Call it once per registry.
func (m *LedgerMetrics) Wrap(s eventstore.Store) (eventstore.Store, error) {
	if !m.headRegistered {
		m.headCollector = &headCollector{store: s, desc: prometheus.NewDesc("authledger_ledger_head_position",
			"Position of the last event in the ledger, read at scrape time.", nil, nil)}
		if err := m.registerer.Register(m.headCollector); err != nil {
			return nil, err
		}
		m.headRegistered = true
	}
	return &store{Store: s, m: m}, nil
}

type store struct {
	eventstore.Store
	m *LedgerMetrics
}

func (s *store) Append(ctx context.Context, appends ...eventstore.StreamAppend) ([]eventstore.Record, error) {
	start := time.Now()
	recs, err := s.Store.Append(ctx, appends...)
	s.m.appendSeconds.Observe(time.Since(start).Seconds())
	switch {
	case errors.Is(err, eventstore.ErrWrongExpectedVersion):
		s.m.appendErrors.WithLabelValues("conflict").Inc()
	case err != nil:
		s.m.appendErrors.WithLabelValues("error").Inc()
	default:
		for _, r := range recs {
			s.m.count(r)
		}
	}
	return recs, err
}

// count turns one committed record into the domain series.
func (m *LedgerMetrics) count(r eventstore.Record) {
	m.events.WithLabelValues(r.Type).Inc()
	switch r.Type {
	case refreshtoken.TypeRotated:
		m.refreshes.Inc()
	case refreshtoken.TypeReuseDetected:
		m.reuse.Inc()
	case session.TypeStarted:
		m.sessionsStart.Inc()
	case session.TypeEnded:
		m.sessionsEnded.Inc()
	case token.TypeIssued:
		var e struct {
			Class token.ClassName `json:"class"`
		}
		class := "other"
		if json.Unmarshal(r.Data, &e) == nil && tokenClasses[e.Class] {
			class = string(e.Class)
		}
		m.issued.WithLabelValues(class).Inc()
	default:
		if e, ok := keyEvents[r.Type]; ok {
			m.keyEvents.WithLabelValues(e).Inc()
		}
	}
}

// headCollector reads the head at scrape time with a short deadline; a
// ledger that does not answer yields no sample rather than a stale one.
type headCollector struct {
	store eventstore.Store
	desc  *prometheus.Desc
}

func (c *headCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *headCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	h, err := c.store.Head(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(h.Position))
}
