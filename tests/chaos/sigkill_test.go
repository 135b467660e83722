package chaos

import (
	"path/filepath"
	"testing"
	"time"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// SIGKILL in the middle of appends, on SQLite and on PostgreSQL: no
// drain, no deferred close. Every token the service acknowledged has its
// token.issued event in the ledger (the group commit answers only after
// the transaction commits), the chain verifies, and a restarted server
// serves and catches its projections up.
func TestSIGKILLMidAppendsLosesNoAcknowledgedToken(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			dsn := "sqlite://" + filepath.ToSlash(filepath.Join(dir, "ledger.db"))
			if store == "postgres" {
				pg := startOwnPostgres(t)
				pg.durable = true
				pg.Stop()
				pg.Start()
				dsn = pg.DSN()
			}
			addr, err := e2eharness.FreeAddr()
			if err != nil {
				t.Fatal(err)
			}
			base := "http://" + addr
			env := append(e2eharness.BaseEnv(), "AUTHLEDGER_DATA_DIR="+dir, "AUTHLEDGER_LISTEN="+addr, "AUTHLEDGER_STORE="+dsn)
			p := startServe(t, bin, env)
			waitReady(t, base)
			var cs []client
			for i := range 4 {
				c := registerClient(t, bin, env, "kill-"+string(rune('a'+i)))
				cs = append(cs, client{ID: c.ClientID, Secret: c.ClientSecret})
			}
			load := startLoad(cs, func(int) string { return base })
			// The registrations reach the server through its feed; wait for
			// acknowledged load before the kill.
			load.okAfter(t, time.Now())
			time.Sleep(phase(2 * time.Second))

			if err := p.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			<-p.done
			time.Sleep(300 * time.Millisecond) // requests now fail at the closed port
			load.end()

			lost := lostTokens(t, env, load.acked)
			chainHolds(t, env)
			// Recovery: from the restart until the first token is served.
			restarted := time.Now()
			p2 := startServe(t, bin, env)
			waitReady(t, base)
			load2 := startLoad(cs[:1], func(int) string { return base })
			load2.okAfter(t, restarted)
			recovery := time.Since(restarted)
			load2.end()
			projectionsCaughtUp(t, env)
			load.report(t, lost, recovery)
			if lost != 0 {
				t.Errorf("%d acknowledged tokens are not in the ledger after SIGKILL", lost)
			}
			p2.stop(t)
		})
	}
}
