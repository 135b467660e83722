package audit_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/projections"
	"github.com/authledger/authledger/projections/projectiontest"
	"github.com/authledger/authledger/queries"
	"github.com/authledger/authledger/readmodels/audit"
)

func TestAuditPassesTheSQLProjectionContract(t *testing.T) {
	t.Parallel()
	projectiontest.Run(t, projectiontest.Case{New: func() projections.SQLProjection { return audit.Projection{} }})
}

// running is the audit projection running on a real read-model database
// over an in-memory ledger.
type running struct {
	store  eventstore.Store
	db     *projections.DB
	runner *projections.Runner
	audit  *audit.Store
}

func start(t *testing.T, url string) *running {
	t.Helper()
	store := memstore.New(nil)
	db, err := projections.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	r, err := projections.New(projections.Config{Store: store, DB: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		RetryInterval: 5 * time.Millisecond, LockRetry: 50 * time.Millisecond, Heartbeat: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Register(audit.Projection{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = r.Start(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return &running{store: store, db: db, runner: r, audit: audit.NewStore(db)}
}

func (r *running) caughtUp(t *testing.T) {
	t.Helper()
	head, err := r.store.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := r.runner.WaitFor(ctx, audit.Name, head.Position); err != nil {
		t.Fatalf("audit.v1 never reached %d: %v", head.Position, err)
	}
}

// all reads every entry ascending, page by page.
func all(t *testing.T, s *audit.Store, f queries.AuditFilter) []queries.AuditEntry {
	t.Helper()
	var out []queries.AuditEntry
	f.Limit = 500
	for {
		p, err := s.Events(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Entries...)
		if !p.More {
			return out
		}
		f.After = p.Next
	}
}

func positions(es []queries.AuditEntry) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Position
	}
	return out
}

func TestEveryLedgerEventHasOneEntryInWords(t *testing.T) {
	t.Parallel()
	for _, e := range projectiontest.Engines {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			r := start(t, e.URL(t))
			projectiontest.SessionsAndFamilies(r.store, 3).Write(t, 200)
			r.caughtUp(t)
			recs, err := r.store.ReadAll(context.Background(), 0, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			entries := all(t, r.audit, queries.AuditFilter{})
			if len(entries) != len(recs) {
				t.Fatalf("%d entries for %d ledger events", len(entries), len(recs))
			}
			sawReuse := false
			for i, en := range entries {
				rec := recs[i]
				if en.Position != rec.Position || en.Hash != rec.Hash || en.Type != rec.Type || en.Stream != rec.Stream || !en.RecordedAt.Equal(rec.RecordedAt) {
					t.Fatalf("entry %d = %+v does not name its envelope %d %s %s", i, en, rec.Position, rec.Type, rec.Hash)
				}
				if en.Summary == "" || strings.HasPrefix(en.Summary, "event ") {
					t.Errorf("position %d (%s) has no sentence: %q", en.Position, en.Type, en.Summary)
				}
				// Every event of a user's session or family is that user's.
				if strings.HasPrefix(en.Type, "session.") || strings.HasPrefix(en.Type, "refreshtoken.") {
					if !strings.HasPrefix(en.Subject, "user-") {
						t.Errorf("position %d (%s) names no subject: %+v", en.Position, en.Type, en)
					}
				}
				if en.Type == refreshtoken.TypeReuseDetected {
					sawReuse = true
					if !strings.HasPrefix(en.Summary, "refresh token reused") || !strings.HasSuffix(en.Summary, ": family revoked, session ended") {
						t.Errorf("reuse entry reads %q, want it to say the family was revoked and the session ended", en.Summary)
					}
				}
			}
			if !sawReuse {
				t.Fatal("the ledger held no reuse: the test proves less than it says")
			}
		})
	}
}

func TestFiltersReturnExactlyTheMatchingEntries(t *testing.T) {
	t.Parallel()
	for _, e := range projectiontest.Engines {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			r := start(t, e.URL(t))
			ledger := projectiontest.SessionsAndFamilies(r.store, 5)
			ledger.Write(t, 100)
			revokeAs(t, r.store, "client:app", "jti-1", "jti-2")
			ledger.Write(t, 50)
			revokeAs(t, r.store, "subject:user-1", "jti-3")
			r.caughtUp(t)
			every := all(t, r.audit, queries.AuditFilter{})
			mid := every[len(every)/2]
			some := every[len(every)/3]
			withSession := mid
			for _, e := range every[len(every)/2:] {
				if e.Session != "" && e.Family != "" {
					withSession = e
					break
				}
			}
			cases := []struct {
				name string
				f    queries.AuditFilter
				want func(queries.AuditEntry) bool
			}{
				{"by subject", queries.AuditFilter{Subject: "user-1"}, func(e queries.AuditEntry) bool { return e.Subject == "user-1" }},
				{"by actor", queries.AuditFilter{Actor: "client:app"}, func(e queries.AuditEntry) bool { return e.Actor == "client:app" }},
				{"by client", queries.AuditFilter{Client: "app"}, func(e queries.AuditEntry) bool { return e.Client == "app" }},
				{"by session", queries.AuditFilter{Session: withSession.Session}, func(e queries.AuditEntry) bool { return e.Session == withSession.Session }},
				{"by family", queries.AuditFilter{Family: withSession.Family}, func(e queries.AuditEntry) bool { return e.Family == withSession.Family }},
				{"by two types", queries.AuditFilter{Types: []string{session.TypeStarted, refreshtoken.TypeRotated}}, func(e queries.AuditEntry) bool {
					return e.Type == session.TypeStarted || e.Type == refreshtoken.TypeRotated
				}},
				{"by time range", queries.AuditFilter{Since: some.RecordedAt, Until: mid.RecordedAt}, func(e queries.AuditEntry) bool {
					return !e.RecordedAt.Before(some.RecordedAt) && e.RecordedAt.Before(mid.RecordedAt)
				}},
				{"by position range", queries.AuditFilter{FromPosition: some.Position, ToPosition: mid.Position}, func(e queries.AuditEntry) bool {
					return e.Position >= some.Position && e.Position <= mid.Position
				}},
				{"subject and type together", queries.AuditFilter{Subject: "user-2", Types: []string{session.TypeEnded}}, func(e queries.AuditEntry) bool {
					return e.Subject == "user-2" && e.Type == session.TypeEnded
				}},
			}
			for _, c := range cases {
				var want []uint64
				for _, e := range every {
					if c.want(e) {
						want = append(want, e.Position)
					}
				}
				if len(want) == 0 || len(want) == len(every) {
					t.Fatalf("%s: nothing matches; the case proves nothing", c.name)
				}
				got := positions(all(t, r.audit, c.f))
				if !slices.Equal(got, want) {
					t.Errorf("%s: got %v, want %v", c.name, got, want)
				}
				// Newest first, in small pages, gives the same set reversed.
				f := c.f
				f.Descending, f.Limit = true, 3
				var down []uint64
				for {
					p, err := r.audit.Events(context.Background(), f)
					if err != nil {
						t.Fatal(err)
					}
					down = append(down, positions(p.Entries)...)
					if !p.More {
						break
					}
					f.After = p.Next
				}
				slices.Reverse(down)
				if !slices.Equal(down, want) {
					t.Errorf("%s, newest first: got %v, want %v", c.name, down, want)
				}
			}
		})
	}
}

// revokeAs appends access-token revocations whose metadata names actor.
func revokeAs(t *testing.T, store eventstore.Store, actor string, jtis ...string) {
	t.Helper()
	for _, jti := range jtis {
		data := `{"jti":"` + jti + `","client_id":"app","expires_at":"2026-03-01T10:00:00Z","at":"2026-03-01T09:00:00Z"}`
		if _, err := store.Append(context.Background(), eventstore.StreamAppend{Stream: "token-" + jti, Expected: eventstore.Any(),
			Events: []eventstore.Event{{Type: "token.access_revoked.v1", Data: []byte(data), Metadata: []byte(`{"actor":"` + actor + `"}`)}}}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPaginationNeitherSkipsNorRepeatsWhileAWriterAppends(t *testing.T) {
	t.Parallel()
	for _, e := range projectiontest.Engines {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			r := start(t, e.URL(t))
			ledger := projectiontest.SessionsAndFamilies(r.store, 7)
			ledger.Write(t, 40)
			r.caughtUp(t)
			done := make(chan struct{})
			go func() {
				defer close(done)
				ledger.Write(t, 300)
			}()
			var seen []uint64
			f := queries.AuditFilter{Subject: "user-0", Limit: 4}
			deadline := time.Now().Add(2 * time.Minute)
			for writing := true; ; {
				select {
				case <-done:
					if writing {
						writing = false
						r.caughtUp(t)
					}
				default:
				}
				p, err := r.audit.Events(context.Background(), f)
				if err != nil {
					t.Fatal(err)
				}
				seen = append(seen, positions(p.Entries)...)
				f.After = p.Next
				if !writing && !p.More && len(p.Entries) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("pagination did not reach the end")
				}
			}
			want := positions(all(t, r.audit, queries.AuditFilter{Subject: "user-0"}))
			if !slices.Equal(seen, want) {
				t.Fatalf("paged while appending: %d entries %v\nwant %d entries %v", len(seen), seen, len(want), want)
			}
		})
	}
}

func TestBadFiltersAreRefused(t *testing.T) {
	t.Parallel()
	for _, f := range []queries.AuditFilter{
		{Limit: 0}, {Limit: 501},
		{Limit: 5, FromPosition: 9, ToPosition: 3},
		{Limit: 5, Since: time.Unix(100, 0), Until: time.Unix(50, 0)},
	} {
		if err := f.Validate(); err == nil {
			t.Errorf("%+v: accepted", f)
		}
	}
}
