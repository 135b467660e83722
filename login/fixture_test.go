package login_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/client/verifier"
	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/internal/compose"
	"github.com/authledger/authledger/login"
	"github.com/authledger/authledger/ratelimit"
	"github.com/authledger/authledger/readmodels/jwks"
	"github.com/authledger/authledger/readmodels/revocations"
	"github.com/authledger/authledger/secrets/local"
	"github.com/authledger/authledger/sessionstore"
)

const (
	issuer = "http://localhost:8080"
	origin = "http://localhost:8080"
	rpID   = "localhost"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type nopPublisher struct{}

func (nopPublisher) PublishRevocation(context.Context, string, string, time.Time) error { return nil }

// fixture is the real stack on one in-memory ledger: keys, signer, the
// token use cases and the /login group on an Echo server with the
// service's error handler.
type fixture struct {
	t      testing.TB
	store  eventstore.Store
	clock  *clock
	tok    compose.Tokens
	enrol  *commands.IssueEnrolmentHandler
	server *echo.Echo
}

type fixtureOpt func(*fixture, *login.Config)

func newFixture(t testing.TB, opts ...fixtureOpt) *fixture {
	t.Helper()
	return newFixtureOn(t, nil, opts...)
}

// newFixtureOn builds the fixture on store (nil: an in-memory ledger).
func newFixtureOn(t testing.TB, store eventstore.Store, opts ...fixtureOpt) *fixture {
	t.Helper()
	ctx := context.Background()
	clk := &clock{now: time.Now().UTC().Truncate(time.Second)}
	if store == nil {
		store = memstore.New(clk.Now)
	}
	sp, err := local.Open(t.TempDir(), local.Options{MasterKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := commands.NewKeys(commands.KeysConfig{Store: store, Secrets: sp, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Rotate(ctx, commands.RotateKeys{Immediately: true}, commands.Metadata{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	model := jwks.New()
	if err := model.Reload(ctx, store); err != nil {
		t.Fatal(err)
	}
	signer, err := commands.NewJWTSigner(commands.JWTSignerConfig{Issuer: issuer, Store: store, Secrets: sp, Keys: model, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	revs := revocations.New(clk.Now)
	v, err := verifier.New(verifier.Config{Issuer: issuer, AnyAudience: true, Keys: model, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, refreshtoken.KeyBytes)
	_, _ = rand.Read(key)
	codec, err := refreshtoken.NewCodec("r1", map[string][]byte{"r1": key})
	if err != nil {
		t.Fatal(err)
	}
	rules, err := commands.NewTokenRules(issuer, nil, clk.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := compose.NewTokens(compose.TokenDeps{Store: store, Signer: signer, Sealer: commands.NewRefreshSealer(codec, nil),
		Live: sessionstore.NewMemory(clk.Now), Verifier: compose.AccessVerifier(v), Revocations: revs, Publisher: nopPublisher{}, Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	rp, err := login.RelyingPartyFor(issuer, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	pk := commands.NewPasskeyCommands(store, tok.StartSession, tok.Elevate, clk.Now)
	cfg := login.Config{
		RP: rp, Issuer: issuer, StepUpMaxAge: 5 * time.Minute, SessionLifetime: 12 * time.Hour,
		Register: pk.Register, SignIn: pk.SignIn, Failures: pk.Failures, Manage: pk.Manage,
		Links: pk.Links, Sessions: tok.Resolver, End: tok.EndSession, SessionList: tok.Sessions,
		Limits:     ratelimit.New(ratelimit.DefaultLimits()),
		Challenges: login.NewChallenges(clk.Now), Now: clk.Now,
	}
	e := echo.New()
	e.HTTPErrorHandler = api.ErrorHandler(slog.New(slog.DiscardHandler))
	f := &fixture{t: t, store: store, clock: clk, tok: tok, enrol: pk.Enrol, server: e}
	for _, o := range opts {
		o(f, &cfg)
	}
	p, err := login.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.Register(e)
	return f
}

// link mints an enrolment link for subject and returns its code.
func (f *fixture) link(subject string) string {
	f.t.Helper()
	l, err := f.enrol.Handle(context.Background(), subject, commands.Metadata{Actor: "cli:test"})
	if err != nil {
		f.t.Fatal(err)
	}
	return l.Code()
}

// browser keeps cookies the way a browser does on http://localhost:
// Secure and __Host- cookies included (Go's cookie jar would drop them
// on http).
type browser struct {
	f       *fixture
	cookies map[string]string
	origin  string
}

func (f *fixture) browser() *browser {
	return &browser{f: f, cookies: map[string]string{}, origin: origin}
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (b *browser) do(method, path string, body []byte) answer {
	b.f.t.Helper()
	req := httptest.NewRequest(method, origin+path, bytes.NewReader(body))
	req.RemoteAddr = "192.0.2.7:5555"
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if b.origin != "" && method != http.MethodGet {
		req.Header.Set("Origin", b.origin)
	}
	var cs []string
	for k, v := range b.cookies {
		cs = append(cs, k+"="+v)
	}
	if len(cs) > 0 {
		req.Header.Set("Cookie", strings.Join(cs, "; "))
	}
	rec := httptest.NewRecorder()
	b.f.server.ServeHTTP(rec, req)
	res := rec.Result()
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
			continue
		}
		if !c.Secure || !c.HttpOnly {
			b.f.t.Fatalf("cookie %s is not Secure and HttpOnly", c.Name)
		}
		b.cookies[c.Name] = c.Value
	}
	out, _ := io.ReadAll(res.Body)
	return answer{status: res.StatusCode, header: res.Header, body: out}
}

func (b *browser) post(path string, body any) answer {
	b.f.t.Helper()
	raw, ok := body.([]byte)
	if !ok {
		if rm, ok2 := body.(json.RawMessage); ok2 {
			raw = rm
		} else {
			raw, _ = json.Marshal(body)
		}
	}
	return b.do(http.MethodPost, path, raw)
}

func mustStatus(t testing.TB, a answer, want int) {
	t.Helper()
	if a.status != want {
		t.Fatalf("status %d, want %d: %s", a.status, want, a.body)
	}
}

// register runs a whole registration with the enrolment code.
func (b *browser) register(a *softAuthenticator, code string) answer {
	b.f.t.Helper()
	opts := b.post("/login/passkey/register/options", map[string]string{"code": code})
	mustStatus(b.f.t, opts, http.StatusOK)
	return b.post("/login/passkey/register", map[string]any{"name": "test key", "credential": a.create(opts.body)})
}

// signIn runs a whole sign-in.
func (b *browser) signIn(a *softAuthenticator) answer {
	b.f.t.Helper()
	opts := b.post("/login/passkey/signin/options", map[string]string{})
	mustStatus(b.f.t, opts, http.StatusOK)
	return b.post("/login/passkey/signin", a.get(opts.body))
}

// types lists the ledger's event types in order.
func (f *fixture) types() []string {
	f.t.Helper()
	recs, err := f.store.ReadAll(context.Background(), 0, 10000)
	if err != nil {
		f.t.Fatal(err)
	}
	out := make([]string, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.Type)
	}
	return out
}

func (f *fixture) count(typ string) int {
	n := 0
	for _, t := range f.types() {
		if t == typ {
			n++
		}
	}
	return n
}
