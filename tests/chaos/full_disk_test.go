package chaos

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// smallFS mounts a tmpfs of size bytes (a data dir that can fill up) and
// unmounts it when the test ends. Mounting needs CAP_SYS_ADMIN; without
// it the scenario cannot run here and says so.
func smallFS(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a size-limited tmpfs here (needs root or CAP_SYS_ADMIN): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes path until the filesystem is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 256<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}

// A data dir that fills up under load: token requests answer 503
// temporarily_unavailable with Retry-After (never 500), /readyz turns 503
// on ledger_writes because appends fail, and both recover by themselves
// once space is freed; no acknowledged token is lost.
func TestAFullDataDir(t *testing.T) {
	dataDir := smallFS(t, "64m")
	srv := e2eharness.Start(t, bin, e2eharness.Options{DataDir: dataDir})
	app := register(t, srv, "--name", "app", "--scopes", "things:read")
	cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"things:read"}}
	hc := &http.Client{Timeout: 10 * time.Second}
	eventually(t, "client known to the server", func() error {
		if code, out, err := post(hc, srv.BaseURL, "/oauth2/token", app, cc); err != nil || code != 200 {
			return fmt.Errorf("%d %v %v", code, out, err)
		}
		return nil
	})

	var (
		healthy, full, freed codeTally
		phase                atomic.Int32
		stop                 atomic.Bool
		noRetryAfter         atomic.Int32
		wg                   sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				p := phase.Load()
				req, _ := http.NewRequest(http.MethodPost, srv.BaseURL+"/oauth2/token", strings.NewReader(cc.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(app.ID, app.Secret)
				resp, err := hc.Do(req)
				key, jwt := "transport", ""
				if err == nil {
					var body struct {
						AccessToken string `json:"access_token"`
						Error       string `json:"error"`
					}
					_ = jsonDecode(resp, &body)
					key, jwt = fmt.Sprintf("%d %s", resp.StatusCode, body.Error), body.AccessToken
					if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
						noRetryAfter.Add(1)
					}
				}
				id := ""
				if jwt != "" {
					id = jti(t, jwt)
				}
				[]*codeTally{&healthy, &full, &freed}[p].add(key, id)
				time.Sleep(50 * time.Millisecond) // under the client's request budget
			}
		})
	}
	time.Sleep(time.Second)

	filler := filepath.Join(dataDir, "filler")
	fill(t, filler)
	phase.Store(1)
	var sawUnready bool
	var readyChecks map[string]string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		code, checks := readyz(t, srv, "")
		if code == http.StatusServiceUnavailable && checks["ledger_writes"] == "unavailable" {
			sawUnready, readyChecks = true, checks
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	freedAt := time.Now()
	phase.Store(2)
	recovery, readyAgain := "not within 20 s", "not within 20 s"
	for time.Since(freedAt) < 20*time.Second {
		freed.mu.Lock()
		ok := freed.codes["200 "] > 0
		freed.mu.Unlock()
		if ok && recovery == "not within 20 s" {
			recovery = time.Since(freedAt).Round(10 * time.Millisecond).String()
		}
		if code, _ := readyz(t, srv, ""); code == http.StatusOK && readyAgain == "not within 20 s" {
			readyAgain = time.Since(freedAt).Round(10 * time.Millisecond).String()
		}
		if recovery != "not within 20 s" && readyAgain != "not within 20 s" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if exit, err := srv.Stop(); err != nil || exit != 0 {
		t.Errorf("stop: exit %d %v", exit, err)
	}
	streams := ledgerStreams(t, srv)
	acked, lost := 0, 0
	for _, tl := range []*codeTally{&healthy, &full, &freed} {
		for _, j := range tl.acked {
			acked++
			if !streams["token-"+j] {
				lost++
			}
		}
	}
	t.Logf("acknowledged %d, lost %d; healthy: {%s}; full: {%s}; freed: {%s}; readyz while full: %v; recovery after space was freed: tokens %s, /readyz %s",
		acked, lost, &healthy, &full, &freed, readyChecks, recovery, readyAgain)
	if lost != 0 {
		t.Errorf("%d acknowledged tokens are not in the ledger", lost)
	}
	if !sawUnready {
		t.Error("/readyz never said ledger_writes unavailable while the data dir was full")
	}
	if n := noRetryAfter.Load(); n > 0 {
		t.Errorf("%d answers 503 without Retry-After", n)
	}
	full.mu.Lock()
	for code, n := range full.codes {
		if code != "503 temporarily_unavailable" && code != "200 " {
			t.Errorf("%d answers %q while the data dir was full, want 503 temporarily_unavailable", n, code)
		}
	}
	full.mu.Unlock()
	if recovery == "not within 20 s" || readyAgain == "not within 20 s" {
		t.Errorf("no recovery after space was freed: tokens %s, /readyz %s", recovery, readyAgain)
	}
}

// jsonDecode reads and closes resp's JSON body into v.
func jsonDecode(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}
