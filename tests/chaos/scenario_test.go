package chaos

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// The scenarios below (PostgreSQL restarted, SIGKILL mid-appends, the
// secret provider and a key rotation failing, an instance killed) share
// this load and these checks. `make test` runs them in short mode (a few
// seconds of load per phase); `make chaos` sets AUTHLEDGER_CHAOS=long and
// runs every phase several times longer.

// long reports whether the suite runs in long mode.
func long() bool { return os.Getenv("AUTHLEDGER_CHAOS") == "long" }

// phase is how long one phase of a scenario lasts in the current mode.
func phase(short time.Duration) time.Duration {
	if long() {
		return 10 * short
	}
	return short
}

// tokenLoad issues client_credentials tokens from several workers, each
// with its own client (so no client's request budget is the bottleneck),
// and remembers every acknowledged token's jti.
type tokenLoad struct {
	mu         sync.Mutex
	acked      map[string]bool
	codes      map[string]int
	lastOK     time.Time
	lastOKBy   map[int]time.Time // by worker
	noRetry    atomic.Int64      // 503 answers without Retry-After
	stop       atomic.Bool
	wg         sync.WaitGroup
	target     func(worker int) string // base URL the worker sends to
	clients    []client
	perRequest time.Duration
}

// startLoad starts one worker per client; target picks each request's base
// URL. Every worker paces itself to perRequest (20 ms: 50/s per client,
// half its request budget).
func startLoad(clients []client, target func(worker int) string) *tokenLoad {
	l := &tokenLoad{acked: map[string]bool{}, codes: map[string]int{}, lastOKBy: map[int]time.Time{}, target: target, clients: clients, perRequest: 20 * time.Millisecond}
	hc := &http.Client{Timeout: 15 * time.Second}
	for i, c := range clients {
		l.wg.Go(func() {
			for !l.stop.Load() {
				start := time.Now()
				l.one(hc, i, l.target(i), c)
				if d := l.perRequest - time.Since(start); d > 0 {
					time.Sleep(d)
				}
			}
		})
	}
	return l
}

func (l *tokenLoad) one(hc *http.Client, worker int, base string, c client) {
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth2/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	resp, err := hc.Do(req)
	if err != nil {
		l.count(worker, "transport", "")
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	_ = json.Unmarshal(b, &body)
	if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
		l.noRetry.Add(1)
	}
	key := fmt.Sprint(resp.StatusCode)
	if body.Error != "" {
		key += " " + body.Error
	}
	id := ""
	if resp.StatusCode == http.StatusOK {
		if id = jtiClaim(body.AccessToken); id == "" {
			key = "200 without a JWT"
		}
	}
	l.count(worker, key, id)
}

func (l *tokenLoad) count(worker int, key, jti string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.codes[key]++
	if jti != "" {
		l.acked[jti] = true
		l.lastOK = time.Now()
		l.lastOKBy[worker] = l.lastOK
	}
}

// jtiClaim is the jti of a JWT, or "" (not verified: the ledger check is
// the test).
// jtiClaim is the jti of a JWT, "" when it has none.
func jtiClaim(jwt string) string {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		JTI string `json:"jti"`
	}
	if err != nil || json.Unmarshal(b, &c) != nil {
		return ""
	}
	return c.JTI
}

// end stops the workers and waits for their last requests.
func (l *tokenLoad) end() {
	l.stop.Store(true)
	l.wg.Wait()
}

// okAfter waits (generously) for an acknowledged token issued after t and
// returns how long after t it came.
func (l *tokenLoad) okAfter(t *testing.T, since time.Time) time.Duration {
	t.Helper()
	return l.workerOKAfter(t, -1, since)
}

// workerOKAfter is okAfter for one worker's requests (-1: any worker).
func (l *tokenLoad) workerOKAfter(t *testing.T, worker int, since time.Time) time.Duration {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		last := l.lastOK
		if worker >= 0 {
			last = l.lastOKBy[worker]
		}
		l.mu.Unlock()
		if last.After(since) {
			return last.Sub(since)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, codes := l.snapshot()
	t.Fatalf("no token acknowledged within 60 s of %s; answers so far %v", since.Format(time.RFC3339Nano), codes)
	return 0
}

// snapshot copies the acknowledged jtis and the answers by code.
func (l *tokenLoad) snapshot() (map[string]bool, map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, c := make(map[string]bool, len(l.acked)), make(map[string]int, len(l.codes))
	for k, v := range l.acked {
		a[k] = v
	}
	for k, v := range l.codes {
		c[k] = v
	}
	return a, c
}

// report prints what held: served, errors by code, lost, recovery time.
func (l *tokenLoad) report(t *testing.T, lost int, recovery time.Duration) {
	t.Helper()
	acked, codes := l.snapshot()
	keys := make([]string, 0, len(codes))
	for k, n := range codes {
		if !strings.HasPrefix(k, "200") {
			keys = append(keys, fmt.Sprintf("%s=%d", k, n))
		}
	}
	sort.Strings(keys)
	mode := "short"
	if long() {
		mode = "long"
	}
	t.Logf("[%s] %s: served %d tokens, errors by code {%s}, 503 without Retry-After %d, lost %d, recovery %s",
		mode, t.Name(), len(acked), strings.Join(keys, " "), l.noRetry.Load(), lost, recovery.Round(time.Millisecond))
}

// lostTokens counts acknowledged jtis whose token-<jti> stream is not in
// the ledger export (env names the store).
func lostTokens(t *testing.T, env []string, acked map[string]bool) int {
	t.Helper()
	res := e2eharness.Run(t, bin, env, "audit", "export")
	if res.Code != 0 {
		t.Fatalf("audit export: exit %d: %s", res.Code, res.Stderr)
	}
	streams := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(res.Stdout))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var e struct {
			Stream string `json:"stream"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		streams[e.Stream] = true
	}
	lost := 0
	for j := range acked {
		if !streams["token-"+j] {
			lost++
		}
	}
	return lost
}

// chainHolds runs `audit verify` on the store env names.
func chainHolds(t *testing.T, env []string) {
	t.Helper()
	if res := e2eharness.Run(t, bin, env, "audit", "verify"); res.Code != 0 {
		t.Fatalf("audit verify: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
}

// projectionsCaughtUp waits until every projection's checkpoint reached
// the head and none is stopped or retrying.
func projectionsCaughtUp(t *testing.T, env []string) {
	t.Helper()
	var last string
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		res := e2eharness.Run(t, bin, env, "projections", "status", "--json")
		var st struct {
			Projections []struct {
				Name       string `json:"name"`
				Kind       string `json:"kind"`
				State      string `json:"state"`
				Checkpoint uint64 `json:"checkpoint"`
				Head       uint64 `json:"head"`
			} `json:"projections"`
		}
		if res.Code == 0 && json.Unmarshal([]byte(res.Stdout), &st) == nil && len(st.Projections) > 0 {
			ok := true
			for _, p := range st.Projections {
				if p.State == "stopped" || p.State == "retrying" || p.Checkpoint < p.Head {
					ok = false
				}
			}
			if ok {
				return
			}
		}
		last = res.Stdout + res.Stderr
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("projections did not catch up within 60 s:\n%s", last)
}

// clientsFor registers n service clients through srv's store.
func clientsFor(t *testing.T, srv *e2eharness.Server, n int) []client {
	t.Helper()
	var cs []client
	for i := range n {
		cs = append(cs, register(t, srv, "--name", fmt.Sprintf("chaos-%d", i), "--scopes", "things:read"))
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	for _, c := range cs {
		eventually(t, "a token for "+c.ID, func() error {
			st, _, err := post(hc, srv.BaseURL, "/oauth2/token", c, url.Values{"grant_type": {"client_credentials"}})
			if err != nil {
				return err
			}
			if st != http.StatusOK {
				return fmt.Errorf("status %d", st)
			}
			return nil
		})
	}
	return cs
}
