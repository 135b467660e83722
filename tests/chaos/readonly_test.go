package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authledger/authledger/eventstore/sqlite"
	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// codeTally counts answers by code ("200", "503 temporarily_unavailable", …)
// and keeps the jti of every acknowledged token.
type codeTally struct {
	mu    sync.Mutex
	codes map[string]int
	acked []string
}

func (t *codeTally) add(code string, jti string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.codes == nil {
		t.codes = map[string]int{}
	}
	t.codes[code]++
	if jti != "" {
		t.acked = append(t.acked, jti)
	}
}

func (t *codeTally) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := make([]string, 0, len(t.codes))
	for k := range t.codes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, t.codes[k]))
	}
	return strings.Join(parts, ", ")
}

// chattr sets or clears the immutable flag: as root, a chmod does not stop
// writes, but an immutable file refuses them even through descriptors
// already open, which is what a ledger file turned read-only under a
// running server looks like.
func chattr(flag string, paths ...string) error {
	out, err := exec.Command("chattr", append([]string{flag}, paths...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("chattr %s: %v: %s", flag, err, out)
	}
	return nil
}

// A ledger that turns read-only under load makes the token endpoint answer
// 503 temporarily_unavailable with Retry-After, not 500 server_error, and
// loses no acknowledged token.
func TestAReadOnlyLedgerAnswers503WithRetryAfter(t *testing.T) {
	if _, err := exec.LookPath("chattr"); err != nil {
		t.Skip("chattr not installed: cannot make the ledger read-only under a running server")
	}
	dataDir := t.TempDir()
	ledger := filepath.Join(dataDir, "ledger.db")
	srv := e2eharness.Start(t, bin, e2eharness.Options{DataDir: dataDir})
	res := srv.CLI("services", "register", "--name", "app", "--scopes", "things:read")
	if res.Code != 0 {
		t.Fatalf("services register: exit %d: %s", res.Code, res.Stderr)
	}
	var cl struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &cl); err != nil || cl.ClientID == "" {
		t.Fatalf("services register printed %q: %v", res.Stdout, err)
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	token := func() (status int, code, retryAfter, jwt string) {
		req, _ := http.NewRequest(http.MethodPost, srv.BaseURL+"/oauth2/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {"things:read"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(cl.ClientID, cl.ClientSecret)
		resp, err := hc.Do(req)
		if err != nil {
			return 0, "transport: " + err.Error(), "", ""
		}
		defer resp.Body.Close()
		var body struct {
			AccessToken string `json:"access_token"`
			Error       string `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Error, resp.Header.Get("Retry-After"), body.AccessToken
	}
	// The CLI's registration reaches the server through its ledger feed.
	deadline := time.Now().Add(15 * time.Second)
	for {
		if st, _, _, _ := token(); st == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the registered client never got a token")
		}
		time.Sleep(100 * time.Millisecond)
	}

	var (
		healthy, broken, after codeTally
		phase                  atomic.Int32 // 0 healthy, 1 read-only, 2 writable again
		stop                   atomic.Bool
		badRetry               atomic.Int32
		wg                     sync.WaitGroup
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				p := phase.Load()
				st, code, ra, jwt := token()
				key := fmt.Sprintf("%d %s", st, code)
				id := ""
				if st == http.StatusOK {
					id = jti(t, jwt)
				}
				if st == http.StatusServiceUnavailable && ra == "" {
					badRetry.Add(1)
				}
				[]*codeTally{&healthy, &broken, &after}[p].add(key, id)
				// 4 clients × 20/s stay under the client's 100/s request
				// budget: the scenario measures the outage, not slow_down.
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)

	files := []string{ledger}
	if _, err := os.Stat(ledger + "-wal"); err == nil {
		files = append(files, ledger+"-wal")
	}
	if err := chattr("+i", files...); err != nil {
		stop.Store(true)
		wg.Wait()
		t.Skipf("the data dir's filesystem has no immutable flag: %v", err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := chattr("-i", files...); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(restore) // before t.TempDir's removal
	phase.Store(1)
	time.Sleep(3 * time.Second)

	restore()
	back := time.Now()
	phase.Store(2)
	recovery := "not within 15 s"
	for time.Since(back) < 15*time.Second {
		after.mu.Lock()
		ok := after.codes["200 "] > 0
		after.mu.Unlock()
		if ok {
			recovery = time.Since(back).Round(10 * time.Millisecond).String()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if _, err := srv.Stop(); err != nil {
		t.Logf("stop: %v", err)
	}

	// Lost: an acknowledged token the ledger does not hold.
	store, err := sqlite.Open(context.Background(), ledger, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	acked, lost := 0, 0
	for _, tl := range []*codeTally{&healthy, &broken, &after} {
		for _, jti := range tl.acked {
			acked++
			recs, err := store.ReadStream(context.Background(), "token-"+jti)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) == 0 {
				lost++
			}
		}
	}
	outageLines := strings.Count(srv.Logs(), `"msg":"dependency unavailable"`)
	t.Logf("acknowledged %d, lost %d; healthy: {%s}; read-only: {%s}; writable again: {%s}; recovery after the ledger was writable: %s; outage log lines: %d",
		acked, lost, &healthy, &broken, &after, recovery, outageLines)
	// One line per dependency per 5 s: the 3 s outage is one or two lines,
	// whatever the number of failed requests.
	if outageLines < 1 || outageLines > 2 {
		t.Errorf("%d outage log lines for a 3 s outage, want 1 or 2", outageLines)
	}

	if lost != 0 {
		t.Errorf("%d acknowledged tokens are not in the ledger", lost)
	}
	broken.mu.Lock()
	defer broken.mu.Unlock()
	if broken.codes["503 temporarily_unavailable"] == 0 {
		t.Errorf("no 503 temporarily_unavailable while the ledger was read-only: {%v}", broken.codes)
	}
	for code, n := range broken.codes {
		if code != "503 temporarily_unavailable" && code != "200 " {
			t.Errorf("%d answers %q while the ledger was read-only, want 503 temporarily_unavailable", n, code)
		}
	}
	if n := badRetry.Load(); n > 0 {
		t.Errorf("%d answers 503 without Retry-After", n)
	}
}
