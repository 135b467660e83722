// Package e2eharness starts the real authledger binary for end-to-end
// tests: build it once, run `authledger serve` on a free port with a fresh
// data dir, wait until it is ready, run CLI commands against the same
// store, and stop it with SIGTERM. Tests in tests/e2e and any other
// package that needs the real process use it; nothing here is mocked.
//
//	var bin string // built once
//
//	func TestMain(m *testing.M) {
//		dir, _ := os.MkdirTemp("", "e2e-")
//		bin, err = e2eharness.Build(dir) // go build ./cmd/authledger
//		...
//	}
//
//	func TestSomething(t *testing.T) {
//		srv := e2eharness.Start(t, bin, e2eharness.Options{
//			Env: map[string]string{"AUTHLEDGER_STORE": pgtest.NewDatabase(t)}, // optional
//		})
//		resp, err := srv.Get("/readyz")
//		r := srv.CLI("audit", "verify") // same store as the server
//		code, err := srv.Stop()          // SIGTERM; fails the test if it hangs
//	}
package e2eharness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ModuleRoot is the directory holding the authledger go.mod, found by
// walking up from the working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/authledger/authledger\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("e2eharness: no authledger go.mod above the working directory")
		}
		dir = parent
	}
}

// Build compiles ./cmd/authledger into dir and returns the binary's path.
// Call it once from TestMain; building per test would dominate the suite.
func Build(dir string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "authledger")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/authledger")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("e2eharness: go build ./cmd/authledger: %v\n%s", err, out)
	}
	return bin, nil
}

// FreeAddr returns a 127.0.0.1 address with a port nobody listens on now.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// BaseEnv is the process environment without any AUTHLEDGER_* variable,
// so a developer's own configuration never leaks into a test.
func BaseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AUTHLEDGER_") {
			env = append(env, kv)
		}
	}
	return env
}

// Options configures Start. The zero value is the embedded profile with
// nothing configured but a fresh data dir and a free port.
type Options struct {
	// DataDir is AUTHLEDGER_DATA_DIR; empty means a new t.TempDir().
	DataDir string
	// Addr is AUTHLEDGER_LISTEN; empty means a free port on 127.0.0.1.
	// Set it (from FreeAddr) when the issuer must be the server's own URL:
	// browser tests, and clients that check it, such as openid-client.
	Addr string
	// Env adds AUTHLEDGER_* (or other) variables, e.g. AUTHLEDGER_STORE.
	Env map[string]string
	// ReadyTimeout bounds the wait for /readyz (default 60s; the race
	// detector and a busy machine make start-up slow).
	ReadyTimeout time.Duration
	// StopTimeout bounds the wait after SIGTERM before the process is
	// killed and the test fails (default 30s).
	StopTimeout time.Duration
	// ReadyBaseURL is where Start asks /readyz (default BaseURL): the
	// admin listener's URL when AUTHLEDGER_ADMIN_LISTEN moves it there.
	ReadyBaseURL string
	// LiveOnly makes Start wait for /healthz only: for a scenario whose
	// server is expected not to be ready.
	LiveOnly bool
}

// Server is one running `authledger serve`.
type Server struct {
	Bin     string
	DataDir string
	Addr    string // host:port
	BaseURL string // http://host:port
	// Env is the environment the server runs with; CLI runs commands with
	// it, so they see the same store.
	Env []string

	t       testing.TB
	cmd     *exec.Cmd
	logs    *syncBuffer
	done    chan struct{}
	waitErr error
	opt     Options
	stopped bool
}

// Start runs `authledger serve` and waits until /readyz answers 200. The
// server is stopped (SIGTERM) when the test ends if the test did not stop
// it; its logs are printed when the test fails.
func Start(t testing.TB, bin string, opt Options) *Server {
	t.Helper()
	if opt.DataDir == "" {
		opt.DataDir = t.TempDir()
	}
	if opt.ReadyTimeout <= 0 {
		opt.ReadyTimeout = 60 * time.Second
	}
	if opt.StopTimeout <= 0 {
		opt.StopTimeout = 30 * time.Second
	}
	addr := opt.Addr
	if addr == "" {
		var err error
		if addr, err = FreeAddr(); err != nil {
			t.Fatalf("e2eharness: free port: %v", err)
		}
	}
	env := append(BaseEnv(), "AUTHLEDGER_DATA_DIR="+opt.DataDir, "AUTHLEDGER_LISTEN="+addr)
	for k, v := range opt.Env {
		env = append(env, k+"="+v)
	}
	s := &Server{
		Bin: bin, DataDir: opt.DataDir, Addr: addr, BaseURL: "http://" + addr, Env: env,
		t: t, logs: &syncBuffer{}, done: make(chan struct{}), opt: opt,
	}
	s.cmd = exec.Command(bin, "serve")
	s.cmd.Env = env
	s.cmd.Stdout = s.logs
	s.cmd.Stderr = s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("e2eharness: start %s serve: %v", bin, err)
	}
	go func() { s.waitErr = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		if !s.stopped {
			_, _ = s.Stop()
		}
		if t.Failed() {
			t.Logf("authledger serve logs:\n%s", s.Logs())
		}
	})
	wait := s.WaitReady
	if opt.LiveOnly {
		wait = s.waitLive
	}
	if err := wait(opt.ReadyTimeout); err != nil {
		t.Fatalf("e2eharness: %v\nlogs:\n%s", err, s.Logs())
	}
	return s
}

// waitLive polls /healthz until it answers 200, the process exits, or
// timeout passes.
func (s *Server) waitLive(timeout time.Duration) error { return s.waitFor(timeout, "/healthz") }

// WaitReady polls /healthz, then /readyz, until both answer 200, the
// process exits, or timeout passes.
func (s *Server) WaitReady(timeout time.Duration) error {
	return s.waitFor(timeout, "/healthz", "/readyz")
}

func (s *Server) waitFor(timeout time.Duration, paths ...string) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for _, path := range paths {
		base := s.BaseURL
		if path == "/readyz" && s.opt.ReadyBaseURL != "" {
			base = s.opt.ReadyBaseURL
		}
		for {
			resp, err := client.Get(base + path)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case <-s.done:
				return fmt.Errorf("authledger serve exited before %s answered: %v", path, s.waitErr)
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s did not answer 200 within %s (last error %v)", path, timeout, err)
			}
		}
	}
	return nil
}

// Get fetches path from the server.
func (s *Server) Get(path string) (*http.Response, error) {
	return (&http.Client{Timeout: 10 * time.Second}).Get(s.BaseURL + path)
}

// Stop sends SIGTERM and waits for the process to exit, returning its exit
// code. If it does not exit within StopTimeout it is killed and the test
// fails: a graceful shutdown that hangs is a bug.
func (s *Server) Stop() (int, error) {
	s.t.Helper()
	s.stopped = true
	select {
	case <-s.done:
	default:
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return -1, err
		}
		select {
		case <-s.done:
		case <-time.After(s.opt.StopTimeout):
			_ = s.cmd.Process.Kill()
			<-s.done
			s.t.Errorf("e2eharness: authledger serve did not exit within %s of SIGTERM", s.opt.StopTimeout)
		}
	}
	return s.cmd.ProcessState.ExitCode(), nil
}

// Exited reports whether the process has ended.
func (s *Server) Exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// PID is the server's process id (benchmarks read its CPU time from
// /proc/PID/stat).
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Logs returns everything the server wrote to stdout and stderr so far.
func (s *Server) Logs() string { return s.logs.String() }

// Result is one finished CLI run.
type Result struct {
	Code   int
	Stdout string
	Stderr string
}

// CLI runs `authledger args...` with the server's environment, so the
// command uses the same store (DESIGN.md: every CLI command works while the
// server runs).
func (s *Server) CLI(args ...string) Result {
	s.t.Helper()
	return Run(s.t, s.Bin, s.Env, args...)
}

// Run runs the binary with env and args, waiting at most two minutes.
func Run(t testing.TB, bin string, env []string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("e2eharness: run authledger %s: %v", strings.Join(args, " "), err)
	}
	return Result{Code: cmd.ProcessState.ExitCode(), Stdout: out.String(), Stderr: errb.String()}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// built is ./cmd/authledger compiled once per test process.
var built = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "authledger-bin-")
	if err != nil {
		return "", err
	}
	return Build(dir)
})

// Binary is ./cmd/authledger, built once per test process (the first
// caller pays for the build); the test fails when it does not build.
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := built()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// Main builds the binary into *bin, runs the package's tests and removes
// the build: the TestMain of a package whose tests all start the binary.
func Main(m *testing.M, bin *string) {
	path, err := built()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*bin = path
	code := m.Run()
	os.RemoveAll(filepath.Dir(path))
	os.Exit(code)
}
