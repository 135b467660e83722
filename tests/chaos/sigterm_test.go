package chaos

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// refused reports an error of a request that never reached the server
// (the dial failed): what a client sees once the listener is closed.
func refused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// SIGTERM with keep-alive clients busy and a /v1/revocations long poll
// open: every request in flight gets a complete answer (no EOF), new
// connections are refused, the process exits 0, and every acknowledged
// token is in the ledger.
func TestSIGTERMDrainsKeepAliveClientsAndExitsZero(t *testing.T) {
	srv := e2eharness.Start(t, bin, e2eharness.Options{Env: map[string]string{
		"AUTHLEDGER_SHUTDOWN_TIMEOUT": "10s",
	}, StopTimeout: 20 * time.Second})
	svc := register(t, srv, "--name", "load", "--scopes", "read")
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
	eventually(t, "client known to the server", func() error {
		code, out, err := post(http.DefaultClient, srv.BaseURL, "/oauth2/token", svc, form)
		if err != nil || code != 200 {
			return fmt.Errorf("%d %v %v", code, out, err)
		}
		return nil
	})

	var (
		y       tally
		mu      sync.Mutex
		jtis    []string
		inAir   []string // errors of requests the server had accepted
		wg      sync.WaitGroup
		perConn [6]atomic.Int64
	)
	for i := range perConn {
		wg.Go(func() {
			// One keep-alive connection per client.
			hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}}
			for {
				code, out, err := post(hc, srv.BaseURL, "/oauth2/token", svc, form)
				switch {
				case err != nil && refused(err):
					return // the listener is closed: stop, as a client behind a balancer would
				case err != nil:
					y.fail("transport")
					mu.Lock()
					inAir = append(inAir, err.Error())
					mu.Unlock()
					return
				case code != 200:
					y.fail(fmt.Sprintf("%d %v", code, out["error"]))
				default:
					y.ack()
					perConn[i].Add(1)
					mu.Lock()
					jtis = append(jtis, jti(t, out["access_token"].(string)))
					mu.Unlock()
				}
			}
		})
	}
	pollDone := make(chan error, 1)
	pollSent := make(chan struct{})
	go func() {
		req, _ := http.NewRequest(http.MethodGet, srv.BaseURL+"/v1/revocations?after=0&wait=30", nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			WroteRequest: func(httptrace.WroteRequestInfo) { close(pollSent) }}))
		resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != 200 {
				err = fmt.Errorf("long poll: %s", resp.Status)
			}
		}
		pollDone <- err
	}()
	// Every client is busy (and the long poll waiting) before SIGTERM.
	select {
	case <-pollSent:
	case err := <-pollDone:
		t.Fatalf("long poll ended before SIGTERM: %v", err)
	}
	eventually(t, "every client acknowledged", func() error {
		for i := range perConn {
			if perConn[i].Load() < 5 {
				return fmt.Errorf("client %d: %d acknowledged", i, perConn[i].Load())
			}
		}
		return nil
	})

	code, err := srv.Stop()
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := <-pollDone; err != nil {
		t.Errorf("the long poll open at SIGTERM got no complete answer: %v", err)
	}
	streams := ledgerStreams(t, srv)
	lost := 0
	for _, j := range jtis {
		if !streams["token-"+j] {
			lost++
		}
	}
	y.report(t, lost)
	if lost > 0 {
		t.Errorf("%d acknowledged tokens are not in the ledger", lost)
	}
	if len(inAir) > 0 {
		t.Errorf("%d requests in flight at SIGTERM got no complete answer: %q", len(inAir), inAir)
	}
	if len(y.errors) > 0 {
		t.Errorf("errors: %v", y.errors)
	}
	if code != 0 {
		t.Errorf("exit code %d after SIGTERM with everything committed, want 0\nlogs:\n%s", code, tail(srv.Logs(), 2000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
