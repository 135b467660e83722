package m2m_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/authledger/authledger/client/m2m"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// tokenServer answers like /oauth2/token; status picks the answer.
type tokenServer struct {
	*httptest.Server
	requests atomic.Int64
	status   atomic.Int64
	gate     chan struct{} // if set, requests wait for it
}

func newTokenServer(t *testing.T) *tokenServer {
	ts := &tokenServer{}
	ts.status.Store(200)
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.requests.Add(1)
		if ts.gate != nil {
			<-ts.gate
		}
		id, secret, _ := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		switch st := int(ts.status.Load()); {
		case st == 200 && id == "svc-a" && secret == "s3cret":
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "tok", "token_type": "Bearer", "expires_in": 1000})
		case st == 500:
			w.WriteHeader(500)
			_, _ = w.Write([]byte(`{"error":"server_error"}`))
		default:
			w.WriteHeader(401)
			_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
		}
	}))
	t.Cleanup(ts.Close)
	return ts
}

func newSource(t *testing.T, ts *tokenServer, clk *fakeClock, mutate func(*m2m.Config)) *m2m.Source {
	t.Helper()
	cfg := m2m.Config{TokenURL: ts.URL, ClientID: "svc-a", ClientSecret: "s3cret", Now: clk.Now,
		Rand: func() float64 { return 0.5 }, BreakerOpen: 20 * time.Millisecond}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := m2m.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTokenIsRefreshedAtEightyPercentOfItsLifetime(t *testing.T) {
	t.Parallel()
	ts, clk := newTokenServer(t), &fakeClock{now: time.Unix(1_000_000, 0)}
	s := newSource(t, ts, clk, nil)
	steps := []struct {
		name    string
		advance time.Duration
		want    int64
	}{
		{"the first call fetches", 0, 1},
		{"a call at 79.9 % reuses the token", 799 * time.Second, 1},
		{"a call after 80 % fetches a new token", 2 * time.Second, 2},
		{"the new token is reused again", 10 * time.Second, 2},
	}
	for _, st := range steps {
		clk.Add(st.advance)
		if _, err := s.Token(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := ts.requests.Load(); got != st.want {
			t.Fatalf("%s: %d requests, want %d", st.name, got, st.want)
		}
	}
}

func TestJitterSpreadsTheRefreshTime(t *testing.T) {
	t.Parallel()
	ts, clk := newTokenServer(t), &fakeClock{now: time.Unix(1_000_000, 0)}
	// Rand 0 → 75 % of the lifetime with the default ±5 % jitter.
	s := newSource(t, ts, clk, func(c *m2m.Config) { c.Rand = func() float64 { return 0 } })
	_, _ = s.Token()
	clk.Add(751 * time.Second)
	_, _ = s.Token()
	if ts.requests.Load() != 2 {
		t.Fatalf("%d requests; the jittered refresh at 75 %% did not happen", ts.requests.Load())
	}
}

func TestConcurrentCallersShareOneRequest(t *testing.T) {
	t.Parallel()
	ts, clk := newTokenServer(t), &fakeClock{now: time.Unix(1_000_000, 0)}
	ts.gate = make(chan struct{})
	s := newSource(t, ts, clk, nil)
	var wg sync.WaitGroup
	var started atomic.Int32
	errs := make(chan error, 100)
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started.Add(1)
			tok, err := s.Token()
			if err == nil && tok.AccessToken != "tok" {
				err = errors.New("wrong token")
			}
			errs <- err
		}()
	}
	for started.Load() < 100 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let callers reach the flight; correctness does not depend on it
	close(ts.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := ts.requests.Load(); n != 1 {
		t.Fatalf("%d token requests for 100 concurrent callers, want 1", n)
	}
}

func TestFailuresBackOffAndKeepServingAValidToken(t *testing.T) {
	t.Parallel()
	ts, clk := newTokenServer(t), &fakeClock{now: time.Unix(1_000_000, 0)}
	s := newSource(t, ts, clk, nil)
	if _, err := s.Token(); err != nil {
		t.Fatal(err)
	}
	ts.status.Store(500)
	clk.Add(850 * time.Second) // past refresh, before expiry
	tok, err := s.Token()
	if err != nil || tok.AccessToken != "tok" {
		t.Fatalf("a still-valid token must be served while refresh fails: %v", err)
	}
	if ts.requests.Load() != 2 {
		t.Fatalf("%d requests", ts.requests.Load())
	}
	_, _ = s.Token() // inside the backoff: no request
	if ts.requests.Load() != 2 {
		t.Fatalf("a call inside the backoff reached the server")
	}
	clk.Add(200 * time.Second) // token expired, backoff over
	if _, err := s.Token(); err == nil {
		t.Fatal("an expired token was served")
	}
	if _, err := s.Token(); !errors.Is(err, m2m.ErrBackoff) {
		t.Fatalf("immediately after a failure: %v, want ErrBackoff", err)
	}
}

func TestBreakerOpensOnRepeatedAuthFailuresAndHalfOpens(t *testing.T) {
	t.Parallel()
	ts, clk := newTokenServer(t), &fakeClock{now: time.Unix(1_000_000, 0)}
	ts.status.Store(401)
	s := newSource(t, ts, clk, func(c *m2m.Config) { c.BreakerOpen = 50 * time.Millisecond })
	for i := range 3 {
		_, err := s.Token()
		if !m2m.IsAuthFailure(err) {
			t.Fatalf("attempt %d: %v", i, err)
		}
		clk.Add(10 * time.Minute) // past any backoff
	}
	if st := s.BreakerState(); st != gobreaker.StateOpen {
		t.Fatalf("breaker %v after 3 invalid_client, want open", st)
	}
	if _, err := s.Token(); !errors.Is(err, m2m.ErrBreakerOpen) {
		t.Fatalf("while open: %v", err)
	}
	if n := ts.requests.Load(); n != 3 {
		t.Fatalf("%d requests; an open breaker must not call the server", n)
	}
	waitState(t, s, gobreaker.StateHalfOpen)
	ts.status.Store(200)
	clk.Add(10 * time.Minute)
	if _, err := s.Token(); err != nil {
		t.Fatalf("half-open probe: %v", err)
	}
	if st := s.BreakerState(); st != gobreaker.StateClosed || ts.requests.Load() != 4 {
		t.Fatalf("after a good probe: %v, %d requests", st, ts.requests.Load())
	}
}

func TestOutagesDoNotOpenTheBreaker(t *testing.T) {
	t.Parallel()
	ts, clk := newTokenServer(t), &fakeClock{now: time.Unix(1_000_000, 0)}
	ts.status.Store(500)
	s := newSource(t, ts, clk, nil)
	for range 6 {
		_, _ = s.Token()
		clk.Add(10 * time.Minute)
	}
	if st := s.BreakerState(); st != gobreaker.StateClosed {
		t.Fatalf("breaker %v after server errors; only auth failures should open it", st)
	}
}

func waitState(t *testing.T, s *m2m.Source, want gobreaker.State) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.BreakerState() != want {
		if time.Now().After(deadline) {
			t.Fatalf("breaker never reached %v", want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConfigIsChecked(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cfg  m2m.Config
	}{
		{"no token URL", m2m.Config{ClientID: "a", ClientSecret: "s"}},
		{"neither secret nor key", m2m.Config{TokenURL: "http://x", ClientID: "a"}},
		{"a short key", m2m.Config{TokenURL: "http://x", ClientID: "a", PrivateKey: make([]byte, 5)}},
		{"a refresh fraction of 1", m2m.Config{TokenURL: "http://x", ClientID: "a", ClientSecret: "s", RefreshAt: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := m2m.New(tc.cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
