// Command load is the mixed-load driver of DESIGN.md §6: one process
// drives a running authledger with JWKS fetches, client_credentials
// grants, refresh grants, introspections, session starts and in-process
// JWT verifications (client/verifier against the served JWKS), for -d at
// -c concurrency, and prints p50/p95/p99 and throughput per operation plus
// the server's CPU-seconds per 1,000 operations.
//
//	go run ./tests/perf/load -bin bin/authledger -d 20s -c 16            # closed loop
//	go run ./tests/perf/load -bin bin/authledger -d 20s -rate 400        # open loop
//	go run ./tests/perf/load -url http://127.0.0.1:8080 -pid $(pidof authledger) \
//	    -env-file creds.env -d 20s -rate 400
//
// Closed loop (-rate 0): -c workers each send their next request when the
// last one answered. Open loop (-rate R): requests are scheduled at R per
// second whatever the server does, and each latency is measured from its
// scheduled start, so a stall shows in the percentiles instead of slowing
// the load down (no coordinated omission); -c bounds the requests in
// flight.
//
// With -bin the driver starts `authledger serve` on the embedded profile
// in a temporary data dir (or on -store), registers its clients with the
// CLI and reads the server's CPU time from /proc. Against -url, give the
// clients with -env-file (lines CLIENT_ID=… CLIENT_SECRET=…, one client
// per pair, with scopes "sessions:create") and -pid for CPU time.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authledger/authledger/client/verifier"
)

// op is one kind of operation of the mix.
type op struct {
	name   string
	weight int
}

var mix = []op{
	{"jwks", 30}, {"client_credentials", 20}, {"refresh", 15}, {"introspect", 15}, {"session_start", 10}, {"verify", 10},
}

type config struct {
	bin, store, baseURL, envFile string
	pid                          int
	dur                          time.Duration
	conc, rate, clients          int
}

func main() {
	var c config
	flag.StringVar(&c.bin, "bin", "", "start this authledger binary (embedded profile unless -store)")
	flag.StringVar(&c.store, "store", "", "AUTHLEDGER_STORE for -bin (default: SQLite in a temp dir)")
	flag.StringVar(&c.baseURL, "url", "", "a running server's base URL (instead of -bin)")
	flag.StringVar(&c.envFile, "env-file", "", "with -url: CLIENT_ID/CLIENT_SECRET pairs of clients with scope sessions:create")
	flag.IntVar(&c.pid, "pid", 0, "with -url: the server's pid, for CPU time")
	flag.DurationVar(&c.dur, "d", 10*time.Second, "duration")
	flag.IntVar(&c.conc, "c", 16, "workers (closed loop) or the bound on requests in flight (open loop)")
	flag.IntVar(&c.rate, "rate", 0, "open loop at this many operations per second (0: closed loop)")
	flag.IntVar(&c.clients, "clients", 16, "with -bin: service clients to register, each with a registered budget of 100,000 requests/s so that rate limits never throttle the load")
	flag.Parse()
	if err := run(context.Background(), c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

type creds struct{ ID, Secret string }

func run(ctx context.Context, c config, out io.Writer) error {
	var cl []creds
	switch {
	case c.bin != "":
		srv, err := startServer(c)
		if err != nil {
			return err
		}
		defer srv.stop()
		c.baseURL, c.pid = srv.base, srv.cmd.Process.Pid
		if cl, err = srv.register(c.clients); err != nil {
			return err
		}
	case c.baseURL != "" && c.envFile != "":
		var err error
		if cl, err = readEnvFile(c.envFile); err != nil {
			return err
		}
	default:
		return errors.New("give -bin, or -url with -env-file")
	}
	d, err := newDriver(ctx, c.baseURL, cl, c.conc)
	if err != nil {
		return err
	}
	cpu0, cpuErr := cpuSeconds(c.pid)
	start := time.Now()
	if c.rate > 0 {
		d.openLoop(ctx, c.rate, c.conc, c.dur)
	} else {
		d.closedLoop(ctx, c.conc, c.dur)
	}
	elapsed := time.Since(start)
	cpu1, _ := cpuSeconds(c.pid)
	mode := fmt.Sprintf("closed loop, %d workers", c.conc)
	if c.rate > 0 {
		mode = fmt.Sprintf("open loop at %d ops/s, at most %d in flight", c.rate, c.conc)
	}
	fmt.Fprintf(out, "mixed load against %s: %s, %s, %d clients\n", c.baseURL, mode, c.dur, len(cl))
	total := d.report(out, elapsed)
	if cpuErr == nil && c.pid > 0 && total > 0 {
		fmt.Fprintf(out, "server CPU %.2f s for %d operations: %.3f CPU-seconds per 1,000 operations (verify runs in the driver, not the server)\n",
			cpu1-cpu0, total, 1000*(cpu1-cpu0)/float64(total))
	} else {
		fmt.Fprintf(out, "server CPU: not measured (%v)\n", cpuErr)
	}
	return nil
}

// driver holds the state the operations share.
type driver struct {
	base    string
	hc      *http.Client
	clients []creds
	v       *verifier.Verifier
	mu      sync.Mutex
	lat     map[string][]time.Duration
	errs    map[string]map[string]int // op → status → count
	// per-client state: a cached access token and a refresh token.
	state []*clientState
	next  atomic.Uint64
	pick  []string // the mix expanded by weight
}

type clientState struct {
	mu      sync.Mutex
	c       creds
	access  string
	refresh string
}

func newDriver(ctx context.Context, base string, cl []creds, conc int) (*driver, error) {
	tr := &http.Transport{MaxIdleConns: conc * 2, MaxIdleConnsPerHost: conc * 2, IdleConnTimeout: time.Minute}
	d := &driver{base: strings.TrimRight(base, "/"), hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}, clients: cl,
		lat: map[string][]time.Duration{}, errs: map[string]map[string]int{}}
	for _, o := range mix {
		for range o.weight {
			d.pick = append(d.pick, o.name)
		}
	}
	issuer, err := d.issuer(ctx)
	if err != nil {
		return nil, err
	}
	remote, err := verifier.NewRemote(verifier.RemoteConfig{URL: d.base + "/.well-known/jwks.json"})
	if err != nil {
		return nil, err
	}
	if d.v, err = verifier.New(verifier.Config{Issuer: issuer, AnyAudience: true, Keys: remote, Leeway: verifier.DefaultLeeway}); err != nil {
		return nil, err
	}
	for _, c := range cl {
		s := &clientState{c: c}
		if err := d.prime(ctx, s); err != nil {
			return nil, fmt.Errorf("client %s: %w", c.ID, err)
		}
		d.state = append(d.state, s)
	}
	return d, nil
}

func (d *driver) issuer(ctx context.Context) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.base+"/.well-known/oauth-authorization-server", nil)
	resp, err := d.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var m struct {
		Issuer string `json:"issuer"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || m.Issuer == "" {
		return "", fmt.Errorf("metadata: %d %v", resp.StatusCode, err)
	}
	return m.Issuer, nil
}

// prime gets a client its first access token (retrying while the server's
// registry catches up with the CLI) and a session's refresh token.
func (d *driver) prime(ctx context.Context, s *clientState) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := d.clientCredentials(ctx, s)
		if err == nil && st == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no access token (%d %v)", st, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The session endpoint checks the client against the registry read
	// model, which learns of a CLI registration through the ledger feed.
	for {
		st, err := d.sessionStart(ctx, s)
		if err == nil && st == http.StatusCreated {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("session start: %d %v", st, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (d *driver) form(ctx context.Context, path string, s *clientState, v url.Values) (int, map[string]any, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, d.base+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(s.c.ID), url.QueryEscape(s.c.Secret))
	return d.do(req)
}

func (d *driver) do(req *http.Request) (int, map[string]any, error) {
	resp, err := d.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m, nil
}

func (d *driver) clientCredentials(ctx context.Context, s *clientState) (int, error) {
	st, m, err := d.form(ctx, "/oauth2/token", s, url.Values{"grant_type": {"client_credentials"}, "scope": {"sessions:create"}})
	if err == nil && st == http.StatusOK {
		tok, _ := m["access_token"].(string)
		s.mu.Lock()
		s.access = tok
		s.mu.Unlock()
	}
	return st, err
}

func (d *driver) sessionStart(ctx context.Context, s *clientState) (int, error) {
	s.mu.Lock()
	access := s.access
	s.mu.Unlock()
	body := fmt.Sprintf(`{"subject":"load-%d","amr":["pwd"],"acr":"urn:authledger:acr:1"}`, rand.IntN(1_000_000))
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, d.base+"/v1/sessions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+access)
	st, m, err := d.do(req)
	if err == nil && st == http.StatusCreated {
		rt, _ := m["refresh_token"].(string)
		s.mu.Lock()
		s.refresh = rt
		s.mu.Unlock()
	}
	return st, err
}

// one runs the named operation for the client in slot i.
func (d *driver) one(ctx context.Context, name string, s *clientState) (int, error) {
	switch name {
	case "jwks":
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.base+"/.well-known/jwks.json", nil)
		st, _, err := d.do(req)
		return st, err
	case "client_credentials":
		return d.clientCredentials(ctx, s)
	case "session_start":
		return d.sessionStart(ctx, s)
	case "refresh":
		// One rotation at a time per family: a concurrent second use of
		// the same refresh token is reuse, which revokes the family.
		s.mu.Lock()
		defer s.mu.Unlock()
		st, m, err := d.form(ctx, "/oauth2/token", s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.refresh}})
		if err == nil && st == http.StatusOK {
			s.refresh, _ = m["refresh_token"].(string)
		}
		return st, err
	case "introspect":
		s.mu.Lock()
		tok := s.access
		s.mu.Unlock()
		st, _, err := d.form(ctx, "/oauth2/introspect", s, url.Values{"token": {tok}})
		return st, err
	case "verify":
		s.mu.Lock()
		tok := s.access
		s.mu.Unlock()
		if _, err := d.v.Verify(ctx, tok); err != nil {
			return 0, err
		}
		return http.StatusOK, nil
	}
	return 0, fmt.Errorf("unknown operation %q", name)
}

func (d *driver) record(name string, lat time.Duration, st int, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ok := err == nil && st >= 200 && st < 300
	if !ok {
		if d.errs[name] == nil {
			d.errs[name] = map[string]int{}
		}
		key := strconv.Itoa(st)
		if err != nil {
			key = "error"
		}
		d.errs[name][key]++
		return
	}
	d.lat[name] = append(d.lat[name], lat)
}

// task picks the next operation and client round-robin over the mix.
func (d *driver) task() (string, *clientState) {
	n := d.next.Add(1)
	return d.pick[rand.IntN(len(d.pick))], d.state[int(n)%len(d.state)]
}

func (d *driver) closedLoop(ctx context.Context, conc int, dur time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for ctx.Err() == nil {
				name, s := d.task()
				t0 := time.Now()
				st, err := d.one(ctx, name, s)
				if ctx.Err() != nil {
					return
				}
				d.record(name, time.Since(t0), st, err)
			}
		})
	}
	wg.Wait()
}

// openLoop schedules rate operations per second; each latency counts from
// its scheduled time, so time spent queued behind a slow server is in it.
func (d *driver) openLoop(ctx context.Context, rate, maxInFlight int, dur time.Duration) {
	type job struct {
		at   time.Time
		name string
		s    *clientState
	}
	jobs := make(chan job, rate*int(dur/time.Second+1))
	var wg sync.WaitGroup
	for range maxInFlight {
		wg.Go(func() {
			for j := range jobs {
				st, err := d.one(ctx, j.name, j.s)
				d.record(j.name, time.Since(j.at), st, err)
			}
		})
	}
	start := time.Now()
	interval := time.Second / time.Duration(rate)
	for i := 0; ; i++ {
		at := start.Add(time.Duration(i) * interval)
		if at.Sub(start) >= dur {
			break
		}
		if w := time.Until(at); w > 0 {
			time.Sleep(w)
		}
		name, s := d.task()
		jobs <- job{at: at, name: name, s: s}
	}
	close(jobs)
	wg.Wait()
}

// report prints one line per operation and the total; it returns the
// operations the server handled (verify excluded).
func (d *driver) report(out io.Writer, elapsed time.Duration) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintf(out, "%-20s %8s %8s %10s %10s %10s %10s  %s\n", "operation", "ok", "errors", "ops/s", "p50", "p95", "p99", "errors by status")
	server := 0
	for _, o := range mix {
		lat := d.lat[o.name]
		slices.Sort(lat)
		q := func(p float64) time.Duration {
			if len(lat) == 0 {
				return 0
			}
			return lat[int(p*float64(len(lat)-1))]
		}
		nerr := 0
		var codes []string
		for k, n := range d.errs[o.name] {
			nerr += n
			codes = append(codes, fmt.Sprintf("%s=%d", k, n))
		}
		slices.Sort(codes)
		fmt.Fprintf(out, "%-20s %8d %8d %10.1f %10s %10s %10s  %s\n", o.name, len(lat), nerr, float64(len(lat))/elapsed.Seconds(),
			q(.50).Round(time.Microsecond), q(.95).Round(time.Microsecond), q(.99).Round(time.Microsecond), strings.Join(codes, " "))
		if o.name != "verify" {
			server += len(lat) + nerr
		}
	}
	return server
}

// cpuSeconds is the user+system CPU time of pid from /proc (Linux).
func cpuSeconds(pid int) (float64, error) {
	if pid <= 0 {
		return 0, errors.New("no server pid")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the parenthesised command name; utime and stime are the
	// 14th and 15th fields, in clock ticks (100 per second on Linux).
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / 100, nil
}

func readEnvFile(path string) ([]creds, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []creds
	var cur creds
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		switch {
		case !ok:
		case k == "CLIENT_ID":
			cur.ID = v
		case k == "CLIENT_SECRET":
			cur.Secret = v
			out = append(out, cur)
			cur = creds{}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no CLIENT_ID/CLIENT_SECRET pair in " + path)
	}
	return out, sc.Err()
}

// server is an `authledger serve` the driver started.
type server struct {
	cmd  *exec.Cmd
	env  []string
	bin  string
	base string
	dir  string
	logs bytes.Buffer
}

func startServer(c config) (*server, error) {
	dir, err := os.MkdirTemp("", "authledger-load-")
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	env := append(os.Environ(), "AUTHLEDGER_DATA_DIR="+dir, "AUTHLEDGER_LISTEN="+addr, "AUTHLEDGER_ISSUER=http://"+addr, "AUTHLEDGER_LOG_LEVEL=warn")
	if c.store != "" {
		env = append(env, "AUTHLEDGER_STORE="+c.store)
	}
	bin, err := filepath.Abs(c.bin)
	if err != nil {
		return nil, err
	}
	s := &server{env: env, bin: bin, base: "http://" + addr, dir: dir}
	s.cmd = exec.Command(bin, "serve")
	s.cmd.Env, s.cmd.Stdout, s.cmd.Stderr = env, &s.logs, &s.logs
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("server not ready within 60 s:\n%s", s.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *server) register(n int) ([]creds, error) {
	var out []creds
	for i := range n {
		// A load driver measures the server, not its rate limits: each
		// client gets a budget (recorded in its registration) far above
		// what one machine can send, so no answer is a 429.
		cmd := exec.Command(s.bin, "services", "register", "--name", fmt.Sprintf("load-%d", i), "--scopes", "sessions:create",
			"--rate-limit", "100000", "--rate-burst", "200000")
		cmd.Env = s.env
		b, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("services register: %w", err)
		}
		var r struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, err
		}
		out = append(out, creds{r.ClientID, r.ClientSecret})
	}
	return out, nil
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	os.RemoveAll(s.dir)
}
