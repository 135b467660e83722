package chaos

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// serveProc is `authledger serve` started by hand on a fixed address, so
// load can hit the port the moment it opens (the harness waits for
// /readyz first).
type serveProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	logs strings.Builder
	mu   sync.Mutex
}

func (p *serveProc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.Write(b)
}

func startServe(t *testing.T, bin string, env []string) *serveProc {
	t.Helper()
	p := &serveProc{done: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve")
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			p.mu.Lock()
			t.Logf("serve logs:\n%s", p.logs.String())
			p.mu.Unlock()
		}
	})
	return p
}

func (p *serveProc) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Error("serve did not exit within 30s of the signal")
	}
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	poll(t, "/readyz 200", func() bool {
		resp, err := c.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

type creds struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

func registerClient(t *testing.T, bin string, env []string, name string) creds {
	t.Helper()
	res := e2eharness.Run(t, bin, env, "services", "register", "--name", name, "--scopes", "things:read")
	var c creds
	if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &c) != nil || c.ClientID == "" {
		t.Fatalf("services register: exit %d: %s %s", res.Code, res.Stdout, res.Stderr)
	}
	return c
}

// loadTally counts the answers of a client_credentials load.
type loadTally struct {
	acked, refused, unreachable, other atomic.Int64
	mu                                 sync.Mutex
	byCode                             map[int]int
}

func (l *loadTally) request(hc *http.Client, base string, c creds) {
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth2/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ClientID), url.QueryEscape(c.ClientSecret))
	resp, err := hc.Do(req)
	if err != nil {
		l.unreachable.Add(1) // the port is closed between the two processes
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	l.mu.Lock()
	l.byCode[resp.StatusCode]++
	l.mu.Unlock()
	switch {
	case resp.StatusCode == http.StatusOK:
		l.acked.Add(1)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusTooManyRequests:
		l.refused.Add(1)
	default:
		l.other.Add(1)
	}
}

// A restart under client_credentials load: known clients are never
// refused. The clients are registered after a few thousand tokens, so a
// registry that folds the ledger from position 1 after the port opens
// would not know them for a while.
func TestRestartUnderClientCredentialsLoadRefusesNoKnownClient(t *testing.T) {
	t.Parallel()
	addr, err := e2eharness.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + addr
	env := append(e2eharness.BaseEnv(), "AUTHLEDGER_DATA_DIR="+t.TempDir(), "AUTHLEDGER_LISTEN="+addr, "AUTHLEDGER_LOG_LEVEL=warn")
	first := startServe(t, bin, env)
	waitReady(t, base)

	// Ledger history before the load's clients exist: ~5,700 tokens, each
	// client within its rate-limit burst (200).
	warm := make([]creds, 30)
	for i := range warm {
		warm[i] = registerClient(t, bin, env, fmt.Sprintf("warm-%d", i))
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	pre := &loadTally{byCode: map[int]int{}}
	var wg sync.WaitGroup
	jobs := make(chan creds)
	for range 4 {
		wg.Go(func() {
			for c := range jobs {
				for range 190 {
					pre.request(hc, base, c)
				}
			}
		})
	}
	for _, c := range warm {
		jobs <- c
	}
	close(jobs)
	wg.Wait()
	if pre.acked.Load() != 30*190 {
		t.Fatalf("warm-up: %d acknowledged, codes %v", pre.acked.Load(), pre.byCode)
	}
	clients := make([]creds, 8)
	for i := range clients {
		clients[i] = registerClient(t, bin, env, fmt.Sprintf("load-%d", i))
	}

	// Each load client at ~25 requests/s, well under its rate limit (100/s),
	// so a refusal can only be an unknown client.
	load := &loadTally{byCode: map[int]int{}}
	stop := make(chan struct{})
	for i := range clients {
		wg.Go(func() {
			tick := time.NewTicker(40 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				load.request(hc, base, clients[i])
			}
		})
	}
	poll(t, "load acknowledged before the restart", func() bool { return load.acked.Load() > 100 })
	first.stop(t)
	restartAt := time.Now()
	before := load.acked.Load()
	startServe(t, bin, env)
	poll(t, "load acknowledged after the restart", func() bool { return load.acked.Load() > before+400 })
	recovered := time.Since(restartAt)
	close(stop)
	wg.Wait()
	load.mu.Lock()
	codes := fmt.Sprint(load.byCode)
	load.mu.Unlock()
	t.Logf("restart under load: acknowledged %d, refused %d (must be 0), other errors %d, unreachable while down %d, by code %s; serving again %s after the stop",
		load.acked.Load(), load.refused.Load(), load.other.Load(), load.unreachable.Load(), codes, recovered.Round(time.Millisecond))
	if load.refused.Load() != 0 {
		t.Fatalf("%d requests of known clients refused across the restart", load.refused.Load())
	}
}
