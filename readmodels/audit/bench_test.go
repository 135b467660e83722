package audit_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/domain/token"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/internal/pgtest"
	"github.com/authledger/authledger/projections"
	"github.com/authledger/authledger/projections/projectiontest"
	"github.com/authledger/authledger/queries"
	"github.com/authledger/authledger/readmodels/audit"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func percentiles(b *testing.B, xs []time.Duration) {
	if len(xs) == 0 {
		return
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
	at := func(q float64) float64 {
		return float64(xs[min(len(xs)-1, int(q*float64(len(xs))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.95), "p95-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

func quietConfig(db *projections.DB) projections.Config {
	return projections.Config{DB: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), RebuildBatch: 5000}
}

// BenchmarkAuditRebuild rebuilds audit.v1 from position 1 over a ledger of
// logins (AUTHLEDGER_BENCH_LOGINS, default 8,000, eight events each: a
// session and its family started, two access tokens, three rotations that
// inherit the subject through a lookup, the session ended) and reports
// events per second.
func BenchmarkAuditRebuild(b *testing.B) {
	store := memstore.New(nil)
	writeLogins(b, store, envInt("AUTHLEDGER_BENCH_LOGINS", 8000))
	head, err := store.Head(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range projectiontest.Engines {
		b.Run(e.Name, func(b *testing.B) {
			db, err := projections.Open(context.Background(), e.URL(b))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			cfg := quietConfig(db)
			cfg.Store = store
			r, err := projections.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			if err := r.Register(audit.Projection{}); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if err := r.Rebuild(context.Background(), audit.Name, time.Minute, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(head.Position)*float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkAuditSubjectQuery is the auditors' query for one subject with
// 10,000 entries among AUTHLEDGER_BENCH_ENTRIES (default 1,000,000) on
// PostgreSQL. The entries are generated into the audit table directly
// (folding a million-event ledger first would only measure the rebuild);
// each query reads one page of 50 through the real Store: the first page
// oldest first, the newest page, and a page at a random cursor.
func BenchmarkAuditSubjectQuery(b *testing.B) {
	n := envInt("AUTHLEDGER_BENCH_ENTRIES", 1_000_000)
	ctx := context.Background()
	db, err := projections.Open(ctx, pgtest.NewDatabase(b))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	cfg := quietConfig(db)
	cfg.Store = memstore.New(nil)
	r, err := projections.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Register(audit.Projection{}); err != nil {
		b.Fatal(err)
	}
	if err := r.Rebuild(ctx, audit.Name, time.Minute, nil); err != nil { // the empty tables
		b.Fatal(err)
	}
	tbl := db.Live(audit.Name).Name("entries")
	every := n / 10_000
	if _, err := db.ExecContext(ctx, `INSERT INTO `+tbl+` (position, stream, type, summary, subject, actor, client_id, session_id, family, jti, kid, recorded_at, hash)
		SELECT i, 'session-' || (i / 5), (ARRAY['session.started.v1','refreshtoken.rotated.v1','token.issued.v1','session.ended.v1'])[1 + i % 4],
			'refresh token used: rotated to generation 2',
			CASE WHEN i % $1 = 0 THEN 'target' ELSE 'u-' || (i % 99991) END,
			'client:svc-login', 'svc-login', 's-' || (i / 5), 'f-' || (i / 5), '', '', 1767225600000000 + i * 1000, md5(i::text) || md5(i::text)
		FROM generate_series(1, $2::bigint) AS i`, every, n); err != nil {
		b.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `ANALYZE `+tbl); err != nil {
		b.Fatal(err)
	}
	s := audit.NewStore(db)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		name string
		f    func() queries.AuditFilter
	}{
		{"first page", func() queries.AuditFilter { return queries.AuditFilter{Subject: "target", Limit: 50} }},
		{"newest page", func() queries.AuditFilter { return queries.AuditFilter{Subject: "target", Limit: 50, Descending: true} }},
		{"page at a cursor", func() queries.AuditFilter {
			return queries.AuditFilter{Subject: "target", Limit: 50, After: uint64(rng.IntN(n))}
		}},
		{"type and time range", func() queries.AuditFilter {
			since := time.UnixMicro(1767225600000000 + int64(rng.IntN(n/2))*1000)
			return queries.AuditFilter{Subject: "target", Types: []string{"session.started.v1"}, Since: since, Until: since.Add(time.Hour * 24), Limit: 50}
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for range b.N {
				t0 := time.Now()
				p, err := s.Events(ctx, c.f())
				if err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
				if len(p.Entries) == 0 && c.name == "first page" {
					b.Fatal("no entries for the subject")
				}
			}
			percentiles(b, lat)
		})
	}
}

// writeLogins appends n logins of eight events each, in the shapes the
// commands write (domain structs, so the codecs decode them).
func writeLogins(b *testing.B, store eventstore.Store, n int) { writeLoginsFrom(b, store, 0, n) }

// writeLoginsFrom appends logins first … first+n-1.
func writeLoginsFrom(b *testing.B, store eventstore.Store, first, n int) {
	b.Helper()
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	meta := json.RawMessage(`{"actor":"client:svc-login"}`)
	ev := func(e interface{ EventType() string }) eventstore.Event {
		d, err := json.Marshal(e)
		if err != nil {
			b.Fatal(err)
		}
		return eventstore.Event{Type: e.EventType(), Data: d, Metadata: meta}
	}
	for i := first; i < first+n; i++ {
		sid := fmt.Sprintf("s-%06d", i)
		var fid refreshtoken.FamilyID
		binary.BigEndian.PutUint64(fid[8:], uint64(i)+1)
		sub := fmt.Sprintf("u-%d", i%997)
		appends := []eventstore.StreamAppend{
			{Stream: session.Stream(sid), Expected: eventstore.NoStream(), Events: []eventstore.Event{ev(session.Started{ID: sid, Subject: sub, ClientID: "svc-login", ACR: "aal1", AuthTime: at, Family: fid.String(), ExpiresAt: at.Add(12 * time.Hour), At: at})}},
			{Stream: fid.Stream(), Expected: eventstore.NoStream(), Events: []eventstore.Event{ev(refreshtoken.Started{Family: fid, ClientID: "svc-app", Subject: sub, SessionID: sid, AuthTime: at, KeyID: "k1", ExpiresAt: at.Add(24 * time.Hour), At: at})}},
		}
		for j := range 2 {
			jti := fmt.Sprintf("j-%d-%d", i, j)
			appends = append(appends, eventstore.StreamAppend{Stream: token.Stream(jti), Expected: eventstore.NoStream(), Events: []eventstore.Event{ev(token.IssuedEvent{JTI: jti, Class: token.Access, Subject: sub, ClientID: "svc-app", SessionID: sid, FamilyID: fid.String(), KeyID: "k1", IssuedAt: at, ExpiresAt: at.Add(10 * time.Minute)})}})
		}
		if _, err := store.Append(ctx, appends...); err != nil {
			b.Fatal(err)
		}
		var rot []eventstore.Event
		for g := range 3 {
			rot = append(rot, ev(refreshtoken.Rotated{Family: fid, Generation: uint64(g) + 2, KeyID: "k1", ExpiresAt: at.Add(24 * time.Hour), At: at}))
		}
		if _, err := store.Append(ctx, eventstore.StreamAppend{Stream: fid.Stream(), Expected: eventstore.Exact(1), Events: rot},
			eventstore.StreamAppend{Stream: session.Stream(sid), Expected: eventstore.Exact(1), Events: []eventstore.Event{ev(session.Ended{ID: sid, Subject: sub, Reason: "logout", At: at, AccessUntil: at.Add(10 * time.Minute)})}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuditLagAt1000AppendsPerSecond appends logins (eight events
// each) at 1,000 events/s for AUTHLEDGER_BENCH_SECONDS (default 5) while
// audit.v1 follows live, and reports how long after each append the
// projection had folded it (the bar: within a second).
func BenchmarkAuditLagAt1000AppendsPerSecond(b *testing.B) {
	secs := envInt("AUTHLEDGER_BENCH_SECONDS", 5)
	for _, e := range projectiontest.Engines {
		b.Run(e.Name, func(b *testing.B) {
			for range b.N {
				store := memstore.New(nil)
				db, err := projections.Open(context.Background(), e.URL(b))
				if err != nil {
					b.Fatal(err)
				}
				cfg := quietConfig(db)
				cfg.Store = store
				r, err := projections.New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				if err := r.Register(audit.Projection{}); err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { defer close(done); _ = r.Start(ctx) }()
				var lags []time.Duration
				tick := time.NewTicker(8 * time.Millisecond) // one login of 8 events per 8 ms: 1,000 events/s
				login := 0
				deadline := time.Now().Add(time.Duration(secs) * time.Second)
				var waits []chan time.Duration
				for time.Now().Before(deadline) {
					<-tick.C
					t0 := time.Now()
					writeLoginsFrom(b, store, login, 1)
					login++
					head, _ := store.Head(ctx)
					ch := make(chan time.Duration, 1)
					waits = append(waits, ch)
					go func(pos uint64) {
						wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
						defer wcancel()
						if err := r.WaitFor(wctx, audit.Name, pos); err != nil {
							ch <- 30 * time.Second
							return
						}
						ch <- time.Since(t0)
					}(head.Position)
				}
				tick.Stop()
				for _, ch := range waits {
					lags = append(lags, <-ch)
				}
				cancel()
				<-done
				_ = db.Close()
				percentiles(b, lags)
			}
		})
	}
}
