package chaos

import (
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authledger/authledger/internal/redistest"
	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// Two instances on one PostgreSQL and one Redis share the load; one is
// SIGKILLed mid-load. Its traffic moves to the survivor (as a load
// balancer's health check would move it), nothing either acknowledged is
// lost, the chain verifies, and the survivor takes over the projections
// the dead one owned.
func TestTwoInstancesOneKilledMidLoad(t *testing.T) {
	t.Parallel()
	pg := startOwnPostgres(t)
	pg.durable = true
	pg.Stop()
	pg.Start()
	redis := redistest.Start(t)
	var bases [2]string
	var envs [2][]string
	// The local secret provider's directory is shared, as a volume would
	// be: either instance must read the keys the other generated.
	secrets := "local://" + filepath.ToSlash(filepath.Join(t.TempDir(), "secrets"))
	for i := range 2 {
		addr, err := e2eharness.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		bases[i] = "http://" + addr
		envs[i] = append(e2eharness.BaseEnv(), "AUTHLEDGER_DATA_DIR="+t.TempDir(), "AUTHLEDGER_LISTEN="+addr,
			"AUTHLEDGER_STORE="+pg.DSN(), "AUTHLEDGER_REDIS_URL="+redis.URL(0), "AUTHLEDGER_SECRETS="+secrets)
	}
	a := startServe(t, bin, envs[0])
	waitReady(t, bases[0])
	b := startServe(t, bin, envs[1])
	waitReady(t, bases[1])
	var cs []client
	for i := range 4 {
		c := registerClient(t, bin, envs[0], "pair-"+string(rune('a'+i)))
		cs = append(cs, client{ID: c.ClientID, Secret: c.ClientSecret})
	}
	var aDead atomic.Bool
	load := startLoad(cs, func(worker int) string {
		if worker%2 == 0 && !aDead.Load() {
			return bases[0]
		}
		return bases[1]
	})
	load.okAfter(t, time.Now())
	time.Sleep(phase(2 * time.Second))

	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-a.done
	killed := time.Now()
	aDead.Store(true)
	// Recovery: until worker 0, which was sending to the dead instance,
	// is served by the survivor.
	recovery := load.workerOKAfter(t, 0, killed)
	time.Sleep(phase(2 * time.Second))
	load.end()

	lost := lostTokens(t, envs[1], load.acked)
	load.report(t, lost, recovery)
	if lost != 0 {
		t.Errorf("%d acknowledged tokens are not in the ledger", lost)
	}
	chainHolds(t, envs[1])
	// While the survivor runs: it took over the projections A owned.
	projectionsCaughtUp(t, envs[1])
	b.stop(t)
}
