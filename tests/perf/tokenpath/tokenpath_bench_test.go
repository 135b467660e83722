// Package tokenpath_test measures the token path of the real binary over
// HTTP on PostgreSQL, with and without Redis, and states each operation's
// server CPU as a multiple of one go-jose EdDSA signature or one Ed25519
// verification measured in the same run (issue #19: the multiples hold
// from machine to machine where absolute rates do not):
//
//	go test -run '^$' -bench TokenPath -benchtime 3s ./tests/perf/tokenpath/
//
// Server CPU is the server process's own utime+stime (/proc/PID/stat)
// before and after each sub-benchmark, so the load generator's share on
// the same cores is not counted. The clients are many (benchClients,
// round robin), each under the default per-client limit of 100/s, so the
// figures are those of the default configuration.
package tokenpath_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/authledger/authledger/internal/pgtest"
	"github.com/authledger/authledger/internal/redistest"
	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// benchClients spreads the load over this many registered clients so that
// no client exceeds the default per-client limit (100/s) at the rates a
// 2-core machine reaches.
const benchClients = 64

type client struct{ id, secret string }

// costs are the reference costs measured in this run, in CPU-µs.
var costs struct{ sign, verify float64 }

// summary keeps each sub-benchmark's last (longest) run for the table
// printed at the end.
var summary struct {
	sync.Mutex
	names []string
	rows  map[string]string
}

func BenchmarkTokenPath(b *testing.B) {
	bin := e2eharness.Binary(b)
	b.Run("ref/go-jose-eddsa-sign", benchSign)
	b.Run("ref/ed25519-verify", benchVerify)
	profiles := []struct {
		name  string
		redis bool
	}{{"postgres", false}, {"postgres+redis", true}}
	for _, p := range profiles {
		env := map[string]string{"AUTHLEDGER_STORE": pgtest.NewDatabase(b), "AUTHLEDGER_LOG_LEVEL": "error"}
		if p.redis {
			_ = redistest.Client(b) // fails the run when Redis is down
			env["AUTHLEDGER_REDIS_URL"] = "redis://" + redistest.Addr + "/14"
		}
		srv := e2eharness.Start(b, bin, e2eharness.Options{Env: env})
		st := setUp(b, srv)
		for _, op := range []string{"client_credentials", "refresh", "introspect", "jwks"} {
			for _, conc := range []int{1, 16} {
				b.Run(fmt.Sprintf("%s/%s/c%d", p.name, op, conc), func(b *testing.B) { st.run(b, op, conc) })
			}
		}
		if code, _ := srv.Stop(); code != 0 {
			b.Fatalf("server exit %d\n%s", code, srv.Logs())
		}
	}
	summary.Lock()
	defer summary.Unlock()
	var rows []string
	for _, n := range summary.names {
		rows = append(rows, summary.rows[n])
	}
	fmt.Printf("one go-jose EdDSA signature %.1f CPU-µs, one Ed25519 verification %.1f CPU-µs\n%-56s %10s %12s %8s\n%s\n", costs.sign, costs.verify,
		"operation", "ops/s", "server-cpu-µs/op", "multiple", strings.Join(rows, "\n"))
}

// typicalClaims is an M2M access token's payload, the size the service signs.
func typicalClaims() jwt.Claims {
	now := time.Now()
	return jwt.Claims{Issuer: "http://localhost:8080", Subject: "svc-0123456789abcdef", Audience: jwt.Audience{"https://api.example"},
		Expiry: jwt.NewNumericDate(now.Add(30 * time.Minute)), IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
		ID: "AAAAAAAAAAAAAAAAAAAAAA"}
}

// benchSign is one go-jose EdDSA signature over a token-sized payload
// (jose.Signer.Sign + CompactSerialize), the unit of the token multiples.
func benchSign(b *testing.B) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: priv}, (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "k1"))
	if err != nil {
		b.Fatal(err)
	}
	payload, _ := json.Marshal(typicalClaims())
	b.ReportAllocs()
	c0 := selfCPU()
	for b.Loop() {
		jws, err := sg.Sign(payload)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := jws.CompactSerialize(); err != nil {
			b.Fatal(err)
		}
	}
	costs.sign = float64((selfCPU() - c0).Microseconds()) / float64(b.N)
	b.ReportMetric(costs.sign, "cpu-µs/op")
}

// benchVerify is one raw Ed25519 verification, the unit of introspection.
func benchVerify(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := bytes.Repeat([]byte("x"), 300)
	sig := ed25519.Sign(priv, msg)
	c0 := selfCPU()
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("verify")
		}
	}
	costs.verify = float64((selfCPU() - c0).Microseconds()) / float64(b.N)
	b.ReportMetric(costs.verify, "cpu-µs/op")
}

type state struct {
	srv     *e2eharness.Server
	pid     int
	clients []client
	// refresh holds each worker's newest refresh token and its client, so
	// successive sub-benchmark runs continue the same families.
	refresh    []string
	refreshCli []int
	access     []string // one access token per client, for introspection
	hc         *http.Client
}

func setUp(b *testing.B, srv *e2eharness.Server) *state {
	st := &state{srv: srv, pid: srv.PID(), hc: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64}}}
	st.clients = make([]client, benchClients)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	errs := make(chan error, benchClients)
	for i := range st.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r := srv.CLI("services", "register", "--name", fmt.Sprintf("bench-%d", i), "--scopes", "sessions:create")
			var out struct {
				ClientID     string `json:"client_id"`
				ClientSecret string `json:"client_secret"`
			}
			if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &out) != nil {
				errs <- fmt.Errorf("register: exit %d %s", r.Code, r.Stderr)
				return
			}
			st.clients[i] = client{out.ClientID, out.ClientSecret}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	// The server learns of clients from the ledger feed: wait for each.
	st.access = make([]string, benchClients)
	for i, c := range st.clients {
		deadline := time.Now().Add(30 * time.Second)
		for {
			tok, err := st.clientCredentials(c)
			if err == nil {
				st.access[i] = tok
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("client %s never usable: %v", c.id, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// One family per client: a worker spends the families w, w+conc, …
	// in turn, so no client exceeds its limit whatever the concurrency.
	for ci := range benchClients {
		rt, err := st.startSession(ci, fmt.Sprintf("user-%d", ci))
		if err != nil {
			b.Fatal(err)
		}
		st.refresh = append(st.refresh, rt)
		st.refreshCli = append(st.refreshCli, ci)
	}
	return st
}

func (st *state) post(path string, c client, v url.Values) ([]byte, error) {
	req, _ := http.NewRequest(http.MethodPost, st.srv.BaseURL+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
	resp, err := st.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %d %s", path, resp.StatusCode, body)
	}
	return body, nil
}

func (st *state) clientCredentials(c client) (string, error) {
	body, err := st.post("/oauth2/token", c, url.Values{"grant_type": {"client_credentials"}, "scope": {"sessions:create"}})
	if err != nil {
		return "", err
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.AccessToken == "" {
		return "", fmt.Errorf("no access token in %s", body)
	}
	return out.AccessToken, nil
}

func (st *state) startSession(ci int, subject string) (string, error) {
	req, _ := http.NewRequest(http.MethodPost, st.srv.BaseURL+"/v1/sessions", strings.NewReader(`{"subject":"`+subject+`","amr":["pwd"],"acr":"aal1"}`))
	req.Header.Set("Authorization", "Bearer "+st.access[ci])
	req.Header.Set("Content-Type", "application/json")
	resp, err := st.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out struct {
		RefreshToken string `json:"refresh_token"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &out) != nil || out.RefreshToken == "" {
		return "", fmt.Errorf("start session: %d %s", resp.StatusCode, body)
	}
	return out.RefreshToken, nil
}

func (st *state) once(op string, w, conc int, i int64) error {
	switch op {
	case "client_credentials":
		_, err := st.clientCredentials(st.clients[int(i)%benchClients])
		return err
	case "refresh":
		// Worker w owns the families f ≡ w (mod conc), so no family is
		// spent by two workers at once.
		f := w + conc*int(i/int64(conc)%int64(benchClients/conc))
		body, err := st.post("/oauth2/token", st.clients[st.refreshCli[f]], url.Values{"grant_type": {"refresh_token"}, "refresh_token": {st.refresh[f]}})
		if err != nil {
			return err
		}
		var out struct {
			RefreshToken string `json:"refresh_token"`
		}
		if err := json.Unmarshal(body, &out); err != nil || out.RefreshToken == "" {
			return fmt.Errorf("no refresh token in %s", body)
		}
		st.refresh[f] = out.RefreshToken
		return nil
	case "introspect":
		ci := int(i) % benchClients
		body, err := st.post("/oauth2/introspect", st.clients[ci], url.Values{"token": {st.access[ci]}})
		if err == nil && !bytes.Contains(body, []byte(`"active":true`)) {
			err = fmt.Errorf("introspection: %s", body)
		}
		return err
	case "jwks":
		resp, err := st.hc.Get(st.srv.BaseURL + "/.well-known/jwks.json")
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("jwks: %d", resp.StatusCode)
		}
		return nil
	}
	return fmt.Errorf("unknown op %q", op)
}

func (st *state) run(b *testing.B, op string, conc int) {
	var next, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	cpu0, err := procCPU(st.pid)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	wall0 := time.Now()
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				if err := st.once(op, w, conc, i); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	wall := time.Since(wall0)
	b.StopTimer()
	cpu1, err := procCPU(st.pid)
	if err != nil {
		b.Fatal(err)
	}
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d %s requests failed; first: %v", n, op, firstErr.Load())
	}
	perOp := float64((cpu1 - cpu0).Microseconds()) / float64(b.N)
	b.ReportMetric(float64(b.N)/wall.Seconds(), "ops/s")
	b.ReportMetric(perOp, "server-cpu-µs/op")
	unit, name := costs.sign, "sign"
	if op == "introspect" {
		unit, name = costs.verify, "verify"
	}
	if unit > 0 {
		b.ReportMetric(perOp/unit, "×"+name)
	}
	summary.Lock()
	if summary.rows == nil {
		summary.rows = map[string]string{}
	}
	if _, ok := summary.rows[b.Name()]; !ok {
		summary.names = append(summary.names, b.Name())
	}
	summary.rows[b.Name()] = fmt.Sprintf("%-56s %10.0f %12.1f %7.2f× %s (N=%d)", b.Name(), float64(b.N)/wall.Seconds(), perOp, perOp/unit, name, b.N)
	summary.Unlock()
}

// selfCPU is this process's user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is pid's utime+stime from /proc/PID/stat (clock ticks, 100/s on
// Linux: 10 ms resolution, small beside a multi-second run).
func procCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after it start
	// past the last ')'.
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(fields[11], 10, 64)
	stt, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	const hz = 100
	return time.Duration(ut+stt) * time.Second / hz, nil
}
