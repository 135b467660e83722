package commands_test

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/authledger/authledger/client/verifier"
	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/oauth"
	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/internal/compose"
	"github.com/authledger/authledger/readmodels/jwks"
	"github.com/authledger/authledger/readmodels/revocations"
	"github.com/authledger/authledger/secrets/local"
	"github.com/authledger/authledger/sessionstore"
)

const testIssuer = "https://auth.example.test"

// tokClock is the injected clock of the token tests.
type tokClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *tokClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *tokClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// tokenFixture is the real stack on one ledger: key ring, JWKS model,
// signer, verifier, revocation set, session store and the token service.
type tokenFixture struct {
	keys     *commands.Keys
	store    eventstore.Store
	clock    *tokClock
	codec    *refreshtoken.Codec
	codecKey []byte
	jwks     *jwks.Model
	revs     *revocations.Set
	sessions commands.SessionStore
	verifier *verifier.Verifier // resource-server view: revocation hook on
	tok      compose.Tokens
}

// fixtureCfg is what options change before the use cases are wired.
type fixtureCfg struct {
	deps   compose.TokenDeps
	codec  *refreshtoken.Codec
	reload func(context.Context) (*refreshtoken.Codec, error)
}

type fixtureOpt func(*fixtureCfg)

func withGrace(d time.Duration) fixtureOpt {
	return func(c *fixtureCfg) { c.deps.Grace = d }
}

func withSessions(s commands.SessionStore) fixtureOpt {
	return func(c *fixtureCfg) { c.deps.Live = s }
}

func withCodec(codec *refreshtoken.Codec) fixtureOpt {
	return func(c *fixtureCfg) { c.codec = codec }
}

func withReload(fn func(context.Context) (*refreshtoken.Codec, error)) fixtureOpt {
	return func(c *fixtureCfg) { c.reload = fn }
}

// nopPublisher stands in for the cross-instance fan-out, which is best
// effort: these tests see revocations through the ledger.
type nopPublisher struct{}

func (nopPublisher) PublishRevocation(context.Context, string, string, time.Time) error { return nil }

func newTokenFixture(t testing.TB, store eventstore.Store, opts ...fixtureOpt) *tokenFixture {
	t.Helper()
	ctx := context.Background()
	clk := &tokClock{now: time.Now().UTC().Truncate(time.Second)}
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
	signer, err := commands.NewJWTSigner(commands.JWTSignerConfig{Issuer: testIssuer, Store: store, Secrets: sp, Keys: model, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	revs := revocations.New(clk.Now)
	intro, err := verifier.New(verifier.Config{Issuer: testIssuer, AnyAudience: true, Keys: model, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := verifier.New(verifier.Config{Issuer: testIssuer, Audiences: []string{"api"}, Keys: model, Now: clk.Now, Revocation: revs})
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, refreshtoken.KeyBytes)
	_, _ = rand.Read(key)
	codec, err := refreshtoken.NewCodec("r1", map[string][]byte{"r1": key})
	if err != nil {
		t.Fatal(err)
	}
	rules, err := commands.NewTokenRules(testIssuer, nil, clk.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	fc := fixtureCfg{codec: codec, deps: compose.TokenDeps{
		Store: store, Signer: signer, Live: sessionstore.NewMemory(clk.Now),
		Verifier: compose.AccessVerifier(intro), Revocations: revs, Publisher: nopPublisher{}, Rules: rules,
	}}
	for _, o := range opts {
		o(&fc)
	}
	codec, deps := fc.codec, fc.deps
	deps.Sealer = commands.NewRefreshSealer(codec, fc.reload)
	tok, err := compose.NewTokens(deps)
	if err != nil {
		t.Fatal(err)
	}
	return &tokenFixture{keys: keys, store: store, clock: clk, codec: codec, codecKey: key, jwks: model, revs: revs, sessions: deps.Live, verifier: rs, tok: tok}
}

func (f *tokenFixture) start(t testing.TB, client, subject string) commands.StartedSession {
	t.Helper()
	s, err := f.tok.StartSession.Handle(context.Background(), commands.StartSession{ClientID: client, Subject: subject, AMR: []string{"webauthn"}, ACR: "aal1"}, commands.Metadata{Actor: client})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *tokenFixture) catchUp(t testing.TB) {
	t.Helper()
	if err := f.revs.CatchUp(context.Background(), f.store); err != nil {
		t.Fatal(err)
	}
}

// countTypes counts a stream's events by type.
func countTypes(t testing.TB, store eventstore.Store, stream string) map[string]int {
	t.Helper()
	recs, err := store.ReadStream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range recs {
		out[r.Type]++
	}
	return out
}

func isInvalidGrant(err error) bool { return errors.Is(err, oauth.ErrInvalidGrant) }
