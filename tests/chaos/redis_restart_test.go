package chaos

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/authledger/authledger/internal/redistest"
	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// A Redis restarted without persistence under live sessions loses none of
// them: the ledger is the truth and the session store is its cache, so
// every cookie works again once Redis answers, rebuilt from the ledger.
// Before that, a frozen Redis makes /readyz degraded, not unavailable.
func TestARedisRestartWithLiveSessions(t *testing.T) {
	rs := redistest.Start(t)
	srv := e2eharness.Start(t, bin, e2eharness.Options{Env: map[string]string{
		"AUTHLEDGER_REDIS_URL": rs.URL(0),
	}})
	login := register(t, srv, "--name", "login", "--scopes", "sessions:create read")
	const n = 20
	cookies := make([]string, n)
	for i := range cookies {
		cookies[i], _ = startSession(t, srv, login, fmt.Sprintf("user-%d", i))
		if code, typ := sessionCall(t, srv.BaseURL, cookies[i]); code != http.StatusOK {
			t.Fatalf("session %d before the restart: %d %s", i, code, typ)
		}
	}
	// The session-token index must hold them before Redis goes: it folds
	// the ledger within milliseconds, so a short wait is generous.
	eventually(t, "the sessions in the ledger's index", func() error {
		code, checks := readyz(t, srv, "")
		if code != http.StatusOK {
			return fmt.Errorf("readyz %d %v", code, checks)
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond)

	// A frozen Redis degrades readiness: verification traffic stays, the
	// session-traffic probe drains.
	rs.Freeze()
	eventually(t, "readiness degraded by a frozen Redis", func() error {
		code, checks := readyz(t, srv, "")
		scode, _ := readyz(t, srv, "?traffic=sessions")
		if code == http.StatusOK && checks["redis"] == "degraded" && scode == http.StatusServiceUnavailable {
			return nil
		}
		return fmt.Errorf("readyz %d %v, ?traffic=sessions %d", code, checks, scode)
	})
	rs.Resume()

	rs.Restart()
	back := time.Now()
	var y tally
	pending := map[int]bool{}
	for i := range cookies {
		pending[i] = true
	}
	deadline := back.Add(20 * time.Second)
	for len(pending) > 0 && time.Now().Before(deadline) {
		for i := range pending {
			code, typ := sessionCall(t, srv.BaseURL, cookies[i])
			if code == http.StatusOK {
				y.ack()
				delete(pending, i)
				continue
			}
			y.fail(fmt.Sprintf("%d %s", code, typ))
		}
		if len(pending) > 0 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	recovery := time.Since(back).Round(10 * time.Millisecond)
	lost := len(pending)
	t.Logf("every session answered again %s after Redis restarted", recovery)
	y.report(t, lost)
	if lost > 0 {
		t.Errorf("%d of %d sessions were lost with Redis", lost, n)
	}
	// Written back: the next call is served by Redis again.
	if code, typ := sessionCall(t, srv.BaseURL, cookies[0]); code != http.StatusOK {
		t.Errorf("a rebuilt session on its next call: %d %s", code, typ)
	}
	if exit, err := srv.Stop(); err != nil || exit != 0 {
		t.Errorf("stop: exit %d %v", exit, err)
	}
}
