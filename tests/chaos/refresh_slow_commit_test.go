package chaos

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// appendLockKey is the PostgreSQL ledger's append lock
// (eventstore/postgres/schema.go): holding it stalls every commit, as a
// slow or overloaded database does.
const appendLockKey int64 = 0x61757468_6c656467

// A refresh whose commit stalls past the client's timeout, then the
// client's ordinary retry of the same token: the retry gets the successor
// (the default 10 s grace), the family is not revoked as a reuse, and the
// user stays signed in.
func TestARefreshWithASlowCommitAndAClientRetry(t *testing.T) {
	pg := startOwnPostgres(t)
	srv := e2eharness.Start(t, bin, e2eharness.Options{Env: map[string]string{"AUTHLEDGER_STORE": pg.DSN()}})
	login := register(t, srv, "--name", "login", "--scopes", "sessions:create read")
	_, rt := startSession(t, srv, login, "alice")
	refresh := func(hc *http.Client, token string) (int, map[string]any, error) {
		return post(hc, srv.BaseURL, "/oauth2/token", login, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}})
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, appendLockKey); err != nil {
		t.Fatal(err)
	}
	var y tally
	var jtis []string
	// The client gives up after 1.5 s while the ledger is held for 4 s.
	impatient := &http.Client{Timeout: 1500 * time.Millisecond}
	if code, out, err := refresh(impatient, rt); err == nil {
		t.Fatalf("the refresh answered %d %v while the ledger was held", code, out)
	}
	y.fail("client timeout")
	time.Sleep(2500 * time.Millisecond)
	released := time.Now()
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	// The client's retry, with the token it still holds.
	hc := &http.Client{Timeout: 10 * time.Second}
	code, out, err := refresh(hc, rt)
	if err != nil || code != http.StatusOK {
		t.Fatalf("the retry of the same token after a slow commit: %d %v %v (a reuse would log the user out)", code, out, err)
	}
	recovery := time.Since(released).Round(time.Millisecond)
	y.ack()
	jtis = append(jtis, jti(t, out["access_token"].(string)))
	next := out["refresh_token"].(string)
	// The family lives on: its successor refreshes again.
	code, out, err = refresh(hc, next)
	if err != nil || code != http.StatusOK {
		t.Fatalf("the successor after the retry: %d %v %v", code, out, err)
	}
	y.ack()
	jtis = append(jtis, jti(t, out["access_token"].(string)))

	if exit, err := srv.Stop(); err != nil || exit != 0 {
		t.Errorf("stop: exit %d %v", exit, err)
	}
	res := srv.CLI("audit", "export")
	if res.Code != 0 {
		t.Fatalf("audit export: %d %s", res.Code, res.Stderr)
	}
	if n := strings.Count(res.Stdout, `"type":"refreshtoken.reuse_detected.v1"`); n != 0 {
		t.Errorf("%d reuse detections for a client's ordinary retry", n)
	}
	streams := ledgerStreams(t, srv)
	lost := 0
	for _, j := range jtis {
		if !streams["token-"+j] {
			lost++
		}
	}
	t.Logf("retry answered %s after the ledger was released", recovery)
	y.report(t, lost)
	if lost > 0 {
		t.Errorf("%d acknowledged tokens are not in the ledger", lost)
	}
}
