package chaos

import (
	"net/http"
	"strings"
	"testing"
	"time"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// PostgreSQL (ledger and read models) stopped and started again under
// client_credentials load: while it is down commands answer 503 with
// Retry-After, never 500; nothing acknowledged is lost; the chain still
// verifies; and the projections resume and catch up by themselves.
func TestPostgresRestartedUnderLoadLosesNothingAcknowledged(t *testing.T) {
	t.Parallel()
	pg := startOwnPostgres(t)
	// Acknowledged commits must survive the immediate stop below.
	pg.durable = true
	pg.Stop()
	pg.Start()
	srv := e2eharness.Start(t, bin, e2eharness.Options{Env: map[string]string{"AUTHLEDGER_STORE": pg.DSN()}})
	load := startLoad(clientsFor(t, srv, 4), func(int) string { return srv.BaseURL })
	time.Sleep(phase(1500 * time.Millisecond))

	pg.Stop()
	time.Sleep(phase(3 * time.Second))
	_, during := load.snapshot()
	pg.Start()
	back := time.Now()
	recovery := load.okAfter(t, back)
	time.Sleep(phase(1500 * time.Millisecond))
	load.end()

	lost := lostTokens(t, srv.Env, load.acked)
	load.report(t, lost, recovery)
	if lost != 0 {
		t.Errorf("%d acknowledged tokens are not in the ledger", lost)
	}
	if n := load.noRetry.Load(); n != 0 {
		t.Errorf("%d answers were 503 without Retry-After", n)
	}
	_, codes := load.snapshot()
	outage := 0
	for k, n := range codes {
		switch {
		case strings.HasPrefix(k, "200"):
		case k == "503 temporarily_unavailable":
			outage += n
		default:
			t.Errorf("%d answers %q: an outage must answer 503 temporarily_unavailable", n, k)
		}
	}
	if outage == 0 {
		t.Errorf("no 503 while PostgreSQL was down (answers during the outage: %v)", during)
	}
	chainHolds(t, srv.Env)
	projectionsCaughtUp(t, srv.Env)
	resp, err := srv.Get("/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz %d after PostgreSQL came back", resp.StatusCode)
	}
}
