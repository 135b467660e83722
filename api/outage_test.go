package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/eventstore"
)

// brokenLedger serves reads but fails every append, once broken, with the
// error a read-only or disconnected ledger gives (classified by the
// adapters as eventstore.ErrUnavailable).
type brokenLedger struct {
	eventstore.Store
	broken atomic.Bool
}

func (b *brokenLedger) Append(ctx context.Context, appends ...eventstore.StreamAppend) ([]eventstore.Record, error) {
	if b.broken.Load() {
		return nil, eventstore.Unavailable(fmt.Errorf("sqlite: insert: %w", syscall.EROFS))
	}
	return b.Store.Append(ctx, appends...)
}

func TestALedgerOutageAnswers503WithRetryAfter(t *testing.T) {
	t.Parallel()
	bl := &brokenLedger{}
	e := newTokEnv(t, tokEnvOpts{ledger: func(s eventstore.Store) eventstore.Store { bl.Store = s; return bl }})
	bearer := e.m2m(t, e.login, api.SessionsCreateScope)
	s := e.startSession(t, bearer, "alice")
	if s.status != http.StatusCreated {
		t.Fatalf("start: %d %s", s.status, s.raw)
	}
	bl.broken.Store(true)

	for name, r := range map[string]httpResult{
		"client_credentials": e.form(t, "/oauth2/token", e.login, url.Values{"grant_type": {"client_credentials"}, "scope": {api.SessionsCreateScope}}),
		"refresh_token":      e.form(t, "/oauth2/token", e.login, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.body["refresh_token"].(string)}}),
	} {
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || r.body["error"] != "temporarily_unavailable" {
			t.Errorf("token endpoint (%s) during a ledger outage: %d Retry-After %q %s", name, r.status, r.header.Get("Retry-After"), r.raw)
		}
		if r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("token endpoint (%s): Cache-Control %q", name, r.header.Get("Cache-Control"))
		}
	}
	r := e.startSession(t, bearer, "bob")
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" ||
		r.header.Get("Content-Type") != "application/problem+json" || !strings.Contains(r.raw, api.ProblemTypeBase+"storage-unavailable") {
		t.Errorf("POST /v1/sessions during a ledger outage: %d Retry-After %q %s", r.status, r.header.Get("Retry-After"), r.raw)
	}
	if strings.Contains(r.raw, "sqlite") || strings.Contains(r.raw, "read-only") {
		t.Errorf("the problem leaks the engine error: %s", r.raw)
	}

	// Back in service, the same requests succeed.
	bl.broken.Store(false)
	if r := e.form(t, "/oauth2/token", e.login, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.body["refresh_token"].(string)}}); r.status != http.StatusOK {
		t.Fatalf("refresh after the outage: %d %s", r.status, r.raw)
	}
}
