package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/ratelimit"
	"github.com/authledger/authledger/ratelimit/ratelimittest"
	"github.com/authledger/authledger/readmodels/services"
	"github.com/authledger/authledger/replayguard"
)

// okGrant answers 200 to an authenticated client: these tests are about
// who gets past client authentication.
type okGrant struct{}

func (okGrant) GrantType() string { return "client_credentials" }
func (okGrant) Handle(c echo.Context, _ AuthenticatedClient) error {
	return c.NoContent(http.StatusOK)
}

type limitEnv struct {
	h          http.Handler
	id, secret string
	// bystander is a second client: failures naming the first never touch it.
	idB, secretB string
}

// newLimitEnv is the token endpoint with real client authentication over a
// registry holding one client, the limiter r and a clock pinned at one
// instant, so every budget count is exact.
func newLimitEnv(t *testing.T, r RateLimiter, addr ClientAddress) *limitEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	store := memstore.New(nil)
	reg := services.New()
	done := make(chan struct{})
	go func() { defer close(done); _ = reg.Follow(ctx, store) }()
	t.Cleanup(func() { cancel(); <-done })
	svcs, err := commands.NewServices(commands.ServicesConfig{Store: store, Pepper: testPepper})
	if err != nil {
		t.Fatal(err)
	}
	res, err := svcs.Register(ctx, commands.RegisterService{Name: "victim", Scopes: []string{"read"}}, commands.Metadata{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	resB, err := svcs.Register(ctx, commands.RegisterService{Name: "bystander", Scopes: []string{"read"}}, commands.Metadata{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	if err := reg.WaitFor(wctx, resB.Position); err != nil {
		t.Fatal(err)
	}
	auth, err := commands.NewClientAuthenticator(commands.ClientAuthConfig{Directory: reg, Pepper: testPepper, Replay: replayguard.NewMemory(nil), Issuer: "https://issuer.test"})
	if err != nil {
		t.Fatal(err)
	}
	ca := NewClientAuthenticator(auth, r)
	pinned := time.Unix(5000, 0)
	ca.now = func() time.Time { return pinned }
	te, err := NewTokenEndpoint(ca, okGrant{})
	if err != nil {
		t.Fatal(err)
	}
	return &limitEnv{h: New(Config{Logger: slog.New(slog.DiscardHandler), ClientAddress: addr}, te), id: string(res.Client.ID), secret: res.ClientSecret,
		idB: string(resB.Client.ID), secretB: resB.ClientSecret}
}

// phase is n token requests, par at a time, from one peer address (and
// X-Forwarded-For when set), with the right secret or a wrong one, or
// naming a different unregistered client id each time; for the bystander
// client when bystander is set.
type phase struct {
	n, par     int
	peer, xff  string
	correct    bool
	ghostIDs   bool
	bystander  bool
	wantByCode map[int]int
}

// concurrently runs the phases at the same time, each checking its own
// answers.
func (e *limitEnv) concurrently(t *testing.T, ps ...phase) {
	t.Helper()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(func() {
			if err := e.answers(t, p); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

func (e *limitEnv) run(t *testing.T, p phase) {
	t.Helper()
	if err := e.answers(t, p); err != nil {
		t.Fatal(err)
	}
}

// answers sends the phase's requests and compares the answers by status.
func (e *limitEnv) answers(t *testing.T, p phase) error {
	var mu sync.Mutex
	got := map[int]int{}
	sem := make(chan struct{}, max(p.par, 1))
	var wg sync.WaitGroup
	for i := range p.n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			id, secret := e.id, "wrong-secret"
			if p.correct {
				secret = e.secret
			}
			if p.bystander {
				id = e.idB
				if p.correct {
					secret = e.secretB
				}
			}
			if p.ghostIDs {
				id = fmt.Sprint("ghost-", i)
			}
			req := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader("grant_type=client_credentials"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
			req.RemoteAddr = net.JoinHostPort(p.peer, "40000")
			if p.xff != "" {
				req.Header.Set("X-Forwarded-For", p.xff)
			}
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			var body struct{ Error string }
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code == http.StatusTooManyRequests {
				if body.Error != "slow_down" || rec.Header().Get("Retry-After") == "" {
					t.Errorf("429 answer %s %v", rec.Body, rec.Header())
				}
			}
			if rec.Code == http.StatusBadRequest && body.Error != "invalid_request" {
				t.Errorf("400 answer %s", rec.Body)
			}
			mu.Lock()
			got[rec.Code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if fmt.Sprint(got) != fmt.Sprint(p.wantByCode) {
		return fmt.Errorf("answers by status %v, want %v", got, p.wantByCode)
	}
	return nil
}

func TestTokenEndpointRateLimits(t *testing.T) {
	t.Parallel()
	trustLB := ForwardedFor([]netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")})
	const lb = "10.9.0.1"
	cases := []struct {
		name   string
		ext    ClientAddress
		limits ratelimit.Limits
		phases []phase
	}{
		{name: "a flood of wrong secrets for a client from address A does not stop it authenticating from address B",
			phases: []phase{
				{n: 300, par: 100, peer: "198.51.100.1", wantByCode: map[int]int{401: 20, 429: 280}},
				{n: 1, peer: "198.51.100.2", correct: true, wantByCode: map[int]int{200: 1}},
				// A's own failures for the client still hold A's failures
				// back, and never its correct secret (issue 10).
				{n: 1, peer: "198.51.100.1", wantByCode: map[int]int{429: 1}},
				{n: 1, peer: "198.51.100.1", correct: true, wantByCode: map[int]int{200: 1}},
			}},
		{name: "a burst of 300 failures under 100-way parallelism gets exactly the burst of 20 answers",
			phases: []phase{{n: 300, par: 100, peer: "198.51.100.1", wantByCode: map[int]int{401: 20, 429: 280}}}},
		{name: "one address failing for many client ids is stopped at its address budget of 100",
			phases: []phase{
				{n: 300, par: 100, peer: "198.51.100.1", ghostIDs: true, wantByCode: map[int]int{401: 100, 429: 200}},
				{n: 1, peer: "198.51.100.1", wantByCode: map[int]int{429: 1}},
				{n: 1, peer: "198.51.100.2", wantByCode: map[int]int{401: 1}},
				{n: 1, peer: "198.51.100.1", correct: true, wantByCode: map[int]int{200: 1}},
			}},
		{name: "correct secrets spend the request budget only, never the failure budget",
			limits: ratelimit.Limits{PerClient: rate.Limit(0.001), PerClientBurst: 50},
			phases: []phase{
				{n: 80, par: 100, peer: "198.51.100.1", correct: true, wantByCode: map[int]int{200: 50, 429: 30}},
				{n: 30, par: 100, peer: "198.51.100.1", wantByCode: map[int]int{401: 20, 429: 10}},
			}},
		{name: "behind a trusted load balancer each X-Forwarded-For address has its own budget",
			ext: trustLB,
			phases: []phase{
				{n: 300, par: 100, peer: lb, xff: "198.51.100.1", wantByCode: map[int]int{401: 20, 429: 280}},
				{n: 1, peer: lb, xff: "198.51.100.2", correct: true, wantByCode: map[int]int{200: 1}},
			}},
		{name: "a trusted proxy's unreadable X-Forwarded-For is refused with 400 and charged to nobody",
			ext: trustLB,
			phases: []phase{
				{n: 50, par: 10, peer: lb, xff: "not-an-address", wantByCode: map[int]int{400: 50}},
				{n: 50, par: 10, peer: lb, xff: "203.0.113.9, bogus", correct: true, wantByCode: map[int]int{400: 50}},
				// Charged to the proxy, those would have spent its budget.
				{n: 30, par: 10, peer: lb, wantByCode: map[int]int{401: 20, 429: 10}},
				{n: 1, peer: lb, xff: "203.0.113.9", correct: true, wantByCode: map[int]int{200: 1}},
			}},
		{name: "X-Forwarded-For from an untrusted peer is ignored",
			ext: trustLB,
			phases: []phase{
				{n: 300, par: 100, peer: "198.51.100.1", xff: "203.0.113.1", wantByCode: map[int]int{401: 20, 429: 280}},
				{n: 1, peer: "198.51.100.1", xff: "203.0.113.2", wantByCode: map[int]int{429: 1}},
			}},
		{name: "without trusted proxies X-Forwarded-For is ignored",
			phases: []phase{
				{n: 300, par: 100, peer: lb, xff: "203.0.113.1", wantByCode: map[int]int{401: 20, 429: 280}},
				{n: 1, peer: lb, xff: "203.0.113.2", wantByCode: map[int]int{429: 1}},
			}},
	}
	for backend, newLimiter := range ratelimittest.Backends(t) {
		for _, tc := range cases {
			t.Run(backend+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				env := newLimitEnv(t, newLimiter(t, tc.limits), tc.ext)
				for _, p := range tc.phases {
					env.run(t, p)
				}
			})
		}
	}
}

// TestFailureBudgetsNeverRefuseCorrectCredentials is issue 10's lockout:
// failed authentications are charged after the credentials are checked,
// so they slow only further failures of that (client, address) pair and
// that address, and a correct secret is never answered 429 because of
// them. Secrets are 256-bit: refusing a correct one protects nothing.
func TestFailureBudgetsNeverRefuseCorrectCredentials(t *testing.T) {
	t.Parallel()
	const flooder = "198.51.100.1"
	cases := []struct {
		name   string
		phases [][]phase // each step's phases run at the same time
	}{
		{name: "a flood of wrong secrets for A from one address never stops A's correct secret from that address, nor B's",
			phases: [][]phase{
				{
					{n: 300, par: 100, peer: flooder, wantByCode: map[int]int{401: 20, 429: 280}},
					{n: 60, par: 4, peer: flooder, correct: true, wantByCode: map[int]int{200: 60}},
					{n: 60, par: 4, peer: flooder, correct: true, bystander: true, wantByCode: map[int]int{200: 60}},
				},
				{{n: 1, peer: flooder, correct: true, wantByCode: map[int]int{200: 1}}},
				{{n: 1, peer: flooder, correct: true, bystander: true, wantByCode: map[int]int{200: 1}}},
				// The flood is still slowed, and B's failures from there
				// still have their own pair budget within the address's.
				{{n: 5, peer: flooder, wantByCode: map[int]int{429: 5}}},
				{{n: 30, par: 10, peer: flooder, bystander: true, wantByCode: map[int]int{401: 20, 429: 10}}},
			}},
		{name: "a flood naming made-up client ids never stops a real client's correct secret from that address",
			phases: [][]phase{
				{
					{n: 300, par: 100, peer: flooder, ghostIDs: true, wantByCode: map[int]int{401: 100, 429: 200}},
					{n: 60, par: 4, peer: flooder, correct: true, wantByCode: map[int]int{200: 60}},
				},
				{{n: 1, peer: flooder, correct: true, wantByCode: map[int]int{200: 1}}},
				{{n: 1, peer: flooder, correct: true, bystander: true, wantByCode: map[int]int{200: 1}}},
				// The address budget is spent: any further failure from it is slowed.
				{{n: 3, peer: flooder, bystander: true, wantByCode: map[int]int{429: 3}}},
				{{n: 1, peer: "198.51.100.2", bystander: true, wantByCode: map[int]int{401: 1}}},
			}},
	}
	for backend, newLimiter := range ratelimittest.Backends(t) {
		for _, tc := range cases {
			t.Run(backend+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				env := newLimitEnv(t, newLimiter(t, ratelimit.DefaultLimits()), nil)
				for _, step := range tc.phases {
					env.concurrently(t, step...)
				}
			})
		}
	}
}

func TestAnUnreadableForwardedForIsRefusedOutsideOAuthWithAProblem(t *testing.T) {
	t.Parallel()
	e := New(Config{Logger: slog.New(slog.DiscardHandler), ClientAddress: ForwardedFor([]netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")})})
	reached := false
	e.GET("/v1/thing", func(c echo.Context) error { reached = true; return c.NoContent(http.StatusOK) })
	cases := []struct {
		name, peer, xff string
		want            int
	}{
		{"from a trusted proxy it is refused before the route", "10.9.0.1", "not-an-address", http.StatusBadRequest},
		{"from anyone else it is ignored", "198.51.100.7", "not-an-address", http.StatusOK},
		{"a readable one passes", "10.9.0.1", "203.0.113.9", http.StatusOK},
	}
	for _, tc := range cases {
		reached = false
		req := httptest.NewRequest(http.MethodGet, "/v1/thing", nil)
		req.RemoteAddr = net.JoinHostPort(tc.peer, "40000")
		req.Header.Set("X-Forwarded-For", tc.xff)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != tc.want || reached != (tc.want == http.StatusOK) {
			t.Fatalf("%s: status %d (route reached %v), want %d: %s", tc.name, rec.Code, reached, tc.want, rec.Body)
		}
		if tc.want == http.StatusBadRequest && (rec.Header().Get("Content-Type") != "application/problem+json" || !strings.Contains(rec.Body.String(), "malformed-forwarded-for")) {
			t.Fatalf("%s: answer %s %s", tc.name, rec.Header().Get("Content-Type"), rec.Body)
		}
	}
}

func TestBearerRequestLimit(t *testing.T) {
	t.Parallel()
	v := BearerVerifierFunc(func(_ context.Context, raw string) (Principal, error) {
		if id, ok := strings.CutPrefix(raw, "valid-"); ok {
			return Principal{Subject: id, ClientID: id}, nil
		}
		return Principal{}, errors.New("bad token")
	})
	type call struct {
		path, token string
		want        int
	}
	repeat := func(n int, c call) []call {
		out := make([]call, n)
		for i := range out {
			out[i] = c
		}
		return out
	}
	cases := []struct {
		name  string
		calls []call
	}{
		{"a client's /v1 requests are capped at its burst, with problem+json 429 and Retry-After",
			append(repeat(5, call{"/v1/thing", "valid-svc-a", 200}), repeat(3, call{"/v1/thing", "valid-svc-a", 429})...)},
		{"another client keeps its own budget",
			append(repeat(6, call{"/v1/thing", "valid-svc-a", 0}), repeat(5, call{"/v1/thing", "valid-svc-b", 200})...)},
		{"a token that does not verify spends no client's budget (the route refuses it)",
			append(repeat(20, call{"/v1/thing", "forged-svc-a", 200}), repeat(5, call{"/v1/thing", "valid-svc-a", 200})...)},
		{"paths outside /v1 are not limited here",
			append(repeat(5, call{"/v1/thing", "valid-svc-a", 200}), repeat(5, call{"/other", "valid-svc-a", 200})...)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := ratelimit.New(ratelimit.Limits{PerClient: rate.Limit(0.001), PerClientBurst: 5})
			e := New(Config{Logger: slog.New(slog.DiscardHandler), Middleware: []echo.MiddlewareFunc{BearerRequestLimit(r, v)}})
			ok := func(c echo.Context) error { return c.NoContent(http.StatusOK) }
			e.GET("/v1/thing", ok)
			e.GET("/other", ok)
			for i, c := range tc.calls {
				req := httptest.NewRequest(http.MethodGet, c.path, nil)
				req.Header.Set("Authorization", "Bearer "+c.token)
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, req)
				if c.want != 0 && rec.Code != c.want {
					t.Fatalf("call %d %s %s: status %d, want %d", i, c.path, c.token, rec.Code, c.want)
				}
				if rec.Code == http.StatusTooManyRequests {
					if rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "rate-limited") {
						t.Fatalf("429 answer %s %v", rec.Body, rec.Header())
					}
				}
			}
		})
	}
}

func TestRequireScopeReusesThePrincipalTheLimitVerified(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	v := BearerVerifierFunc(func(_ context.Context, raw string) (Principal, error) {
		calls.Add(1)
		if id, ok := strings.CutPrefix(raw, "valid-"); ok {
			return Principal{Subject: id, ClientID: id, Scopes: []string{"thing:read"}}, nil
		}
		return Principal{}, errors.New("bad token")
	})
	cases := []struct {
		name      string
		token     string
		limit     bool
		wantCode  int
		wantCalls int64
	}{
		{"behind the per-client limit a valid token is verified once", "valid-svc-a", true, http.StatusOK, 1},
		{"without the limit RequireScope verifies the token itself", "valid-svc-a", false, http.StatusOK, 1},
		{"a token the limit could not verify is still refused by RequireScope", "forged-svc-a", true, http.StatusUnauthorized, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls.Store(0)
			var mw []echo.MiddlewareFunc
			if tc.limit {
				mw = append(mw, BearerRequestLimit(ratelimit.New(ratelimit.Limits{PerClient: rate.Limit(1), PerClientBurst: 5}), v))
			}
			e := New(Config{Logger: slog.New(slog.DiscardHandler), Middleware: mw})
			e.GET("/v1/thing", func(c echo.Context) error {
				if p, ok := PrincipalFrom(c); !ok || p.ClientID != "svc-a" {
					t.Errorf("principal %+v, %v", p, ok)
				}
				return c.NoContent(http.StatusOK)
			}, RequireScope(v, "thing:read"))
			req := httptest.NewRequest(http.MethodGet, "/v1/thing", nil)
			req.Header.Set("Authorization", "Bearer "+tc.token)
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != tc.wantCode || calls.Load() != tc.wantCalls {
				t.Fatalf("status %d after %d verifications, want %d after %d", rec.Code, calls.Load(), tc.wantCode, tc.wantCalls)
			}
		})
	}
}

// testPepper keys the v2 client secret hashes in these tests.
var testPepper = func() client.Pepper {
	p, err := client.NewPepper([]byte("a test pepper of at least 32 bytes"))
	if err != nil {
		panic(err)
	}
	return p
}()
