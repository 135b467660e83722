package login_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/login"
	"github.com/authledger/authledger/projections"
	"github.com/authledger/authledger/readmodels/audit"
)

// auditedFixture is the fixture with the account page reading the real
// audit read model (audit.v1 on SQLite, folded from the fixture's ledger
// by a projection runner), wired the way cmd/authledger wires it.
type auditedFixture struct {
	*fixture
	runner *projections.Runner
	db     *projections.DB
}

func newAuditedFixture(t *testing.T) *auditedFixture {
	t.Helper()
	af := &auditedFixture{}
	af.fixture = newFixture(t, func(f *fixture, cfg *login.Config) {
		db, err := projections.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "readmodels.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		r, err := projections.New(projections.Config{Store: f.store, DB: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
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
		activity := &login.AuditActivity{Passkeys: login.LedgerActivity{Manage: cfg.Manage}}
		activity.UseAudit(audit.NewStore(db))
		cfg.Activity = activity
		af.runner, af.db = r, db
	})
	return af
}

// caughtUp waits until the audit model has folded the whole ledger.
func (af *auditedFixture) caughtUp(t *testing.T) {
	t.Helper()
	head, err := af.store.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := af.runner.WaitFor(ctx, audit.Name, head.Position); err != nil {
		t.Fatal(err)
	}
}

func activityOf(t *testing.T, b *browser) string {
	t.Helper()
	res := b.do(http.MethodGet, "/account", nil)
	mustStatus(t, res, http.StatusOK)
	body := string(res.body)
	i := strings.Index(body, `<ul id="activity">`)
	if i < 0 {
		t.Fatalf("no activity list on the account page:\n%s", body)
	}
	return body[i:]
}

func TestTheAccountPageListsTheSubjectsAuditTrailAndNoOneElses(t *testing.T) {
	t.Parallel()
	af := newAuditedFixture(t)
	ctx := context.Background()

	alice := af.browser()
	aliceKey := newAuthenticator(t, rpID, origin)
	mustStatus(t, alice.register(aliceKey, af.link("alice")), http.StatusCreated)
	mustStatus(t, alice.signIn(aliceKey), http.StatusOK)
	// A session of alice's started by another client: only the audit
	// model knows it (the passkey stream does not).
	if _, err := af.tok.StartSession.Handle(ctx, commands.StartSession{ClientID: "svc-app", Subject: "alice", ACR: "aal1"}, commands.Metadata{}); err != nil {
		t.Fatal(err)
	}

	// Bob signs in from two browsers and ends the first session from the
	// second: an entry ("session ended") alice has none of.
	bobKey := newAuthenticator(t, rpID, origin)
	bob1, bob2 := af.browser(), af.browser()
	mustStatus(t, bob1.register(bobKey, af.link("bob")), http.StatusCreated)
	mustStatus(t, bob1.signIn(bobKey), http.StatusOK)
	mustStatus(t, bob2.signIn(bobKey), http.StatusOK)
	mustStatus(t, bob2.post("/account/sessions/end-others", map[string]string{}), http.StatusOK)
	if _, err := af.tok.StartSession.Handle(ctx, commands.StartSession{ClientID: "svc-bob-only", Subject: "bob", ACR: "aal1"}, commands.Metadata{}); err != nil {
		t.Fatal(err)
	}
	af.caughtUp(t)

	got := activityOf(t, alice)
	for _, want := range []string{"session started", "by svc-app", "signed in", "passkey added"} {
		if !strings.Contains(got, want) {
			t.Errorf("alice's activity lacks %q:\n%s", want, got)
		}
	}
	for _, leak := range []string{"session ended", "svc-bob-only"} {
		if strings.Contains(got, leak) {
			t.Errorf("alice's activity shows bob's %q:\n%s", leak, got)
		}
	}
	// The same entries are on bob's page, so their absence above is the
	// subject filter, not a model that told nothing.
	bobs := activityOf(t, bob2)
	for _, want := range []string{"session ended", "by svc-bob-only", "session started"} {
		if !strings.Contains(bobs, want) {
			t.Errorf("bob's activity lacks %q:\n%s", want, bobs)
		}
	}
	if strings.Contains(bobs, "svc-app") {
		t.Errorf("bob's activity shows alice's session:\n%s", bobs)
	}
	// Newest first: bob's session end comes before his first sign-in's
	// session start in the page.
	if strings.Index(bobs, "session ended") > strings.LastIndex(bobs, "session started") {
		t.Errorf("bob's activity is not newest first:\n%s", bobs)
	}
}

func TestTheAccountPageFallsBackToThePasskeyStreamWithoutTheAuditModel(t *testing.T) {
	t.Parallel()
	af := newAuditedFixture(t)
	b := af.browser()
	a := newAuthenticator(t, rpID, origin)
	mustStatus(t, b.register(a, af.link("alice")), http.StatusCreated)
	mustStatus(t, b.signIn(a), http.StatusOK)
	af.caughtUp(t)
	if got := activityOf(t, b); !strings.Contains(got, "session started") {
		t.Fatalf("with the audit model: no session start:\n%s", got)
	}
	// The read-model database goes away: the page still answers, with
	// what the ledger's passkey stream records.
	if err := af.db.Close(); err != nil {
		t.Fatal(err)
	}
	got := activityOf(t, b)
	if !strings.Contains(got, "signed in") || !strings.Contains(got, "passkey added") || strings.Contains(got, "session started") {
		t.Fatalf("without the audit model: %s", got)
	}
}
