package chaos

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// bin is the authledger binary built once for the package.
var bin string

func TestMain(m *testing.M) { e2eharness.Main(m, &bin) }

type client struct {
	ID     string `json:"client_id"`
	Secret string `json:"client_secret"`
}

func register(t *testing.T, srv *e2eharness.Server, args ...string) client {
	t.Helper()
	res := srv.CLI(append([]string{"services", "register"}, args...)...)
	var c client
	if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &c) != nil || c.ID == "" {
		t.Fatalf("services register: exit %d: %s %s", res.Code, res.Stdout, res.Stderr)
	}
	return c
}

// post sends a form to path with the client's secret; the answer is the
// status and the decoded JSON body, or err when no complete answer came.
func post(hc *http.Client, base, path string, c client, v url.Values) (int, map[string]any, error) {
	req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out, nil
}

// eventually retries f until it succeeds or 20 s pass.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// jti is the jti claim of a JWT (not verified: the ledger check is the test).
func jti(t *testing.T, jwt string) string {
	t.Helper()
	id := jtiClaim(jwt)
	if id == "" {
		// Errorf, not Fatalf: load workers call this off the test goroutine.
		t.Errorf("not a JWT with a jti: %q", jwt)
	}
	return id
}

// tally counts outcomes: acknowledged requests and errors by code.
type tally struct {
	mu     sync.Mutex
	acked  int
	errors map[string]int
}

func (y *tally) ack() { y.mu.Lock(); y.acked++; y.mu.Unlock() }
func (y *tally) fail(code string) {
	y.mu.Lock()
	defer y.mu.Unlock()
	if y.errors == nil {
		y.errors = map[string]int{}
	}
	y.errors[code]++
}

func (y *tally) report(t *testing.T, lost int) {
	y.mu.Lock()
	defer y.mu.Unlock()
	codes := make([]string, 0, len(y.errors))
	for c, n := range y.errors {
		codes = append(codes, fmt.Sprintf("%s=%d", c, n))
	}
	sort.Strings(codes)
	t.Logf("acknowledged %d, lost %d, errors by code: {%s}", y.acked, lost, strings.Join(codes, " "))
}

// ledgerStreams is the set of streams in `audit export` of srv's store.
func ledgerStreams(t *testing.T, srv *e2eharness.Server) map[string]bool {
	t.Helper()
	res := srv.CLI("audit", "export")
	if res.Code != 0 {
		t.Fatalf("audit export: exit %d: %s", res.Code, res.Stderr)
	}
	streams := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(res.Stdout))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e struct {
			Stream string `json:"stream"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		streams[e.Stream] = true
	}
	return streams
}
