package api_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/domain/token"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/readmodels/services"
	"github.com/authledger/authledger/replayguard"
)

const svcIssuer = "https://issuer.test"

// svcSigner is a test commands.Signer: EdDSA RFC 9068 JWTs with a key made
// at test time, one ledger event per issuance like the real signer.
type svcSigner struct {
	store eventstore.Store
	priv  ed25519.PrivateKey
	pub   ed25519.PublicKey
	sig   jose.Signer
	count atomic.Int64
}

func newSvcSigner(t testing.TB, store eventstore.Store) *svcSigner {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: priv},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "test-key"))
	if err != nil {
		t.Fatal(err)
	}
	return &svcSigner{store: store, priv: priv, pub: pub, sig: s}
}

func (s *svcSigner) Sign(ctx context.Context, c token.Claims, meta commands.Metadata) (token.Issued, error) {
	now := time.Now()
	life := token.Bound(c.Class).Lifetime
	var b [16]byte
	_, _ = rand.Read(b[:])
	jti := hex.EncodeToString(b[:])
	raw, err := jwt.Signed(s.sig).Claims(jwt.Claims{Issuer: svcIssuer, Subject: c.Subject, Audience: c.Audience,
		Expiry: jwt.NewNumericDate(now.Add(life)), IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ID: jti}).
		Claims(map[string]any{"client_id": c.ClientID, "scope": strings.Join(c.Scope, " ")}).Serialize()
	if err != nil {
		return token.Issued{}, err
	}
	data, _ := json.Marshal(map[string]any{"jti": jti, "sub": c.Subject, "aud": c.Audience})
	if _, err := s.store.Append(ctx, eventstore.StreamAppend{Stream: "token-" + jti, Expected: eventstore.NoStream(),
		Events: []eventstore.Event{{Type: "token.issued.v1", Data: data}}}); err != nil {
		return token.Issued{}, err
	}
	s.count.Add(1)
	return token.Issued{Raw: raw, JTI: jti, KeyID: "test-key", IssuedAt: now, ExpiresAt: now.Add(life)}, nil
}

// m2mClaims is what the tests read back from an issued token.
type m2mClaims struct {
	jwt.Claims
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
}

func (s *svcSigner) parse(t testing.TB, raw string) m2mClaims {
	t.Helper()
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatalf("parse token: %v", err)
	}
	var c m2mClaims
	if err := tok.Claims(s.pub, &c); err != nil {
		t.Fatalf("verify token: %v", err)
	}
	return c
}

// svcEnv is a running token endpoint and admin API over one ledger.
type svcEnv struct {
	store    eventstore.Store
	registry *services.Registry
	cmds     *commands.Services
	signer   *svcSigner
	srv      *httptest.Server
	tokenURL string
	metrics  *prometheus.Registry
}

type svcEnvOptions struct {
	store  eventstore.Store
	limits api.RateLimiter // nil: no limits
	guard  commands.AssertionGuard
	// acceptTokenEndpointAud turns on the compatibility switch that also
	// accepts the token endpoint URL as a private_key_jwt aud.
	acceptTokenEndpointAud bool
}

func newSvcEnv(t testing.TB, o svcEnvOptions) *svcEnv {
	t.Helper()
	if o.store == nil {
		o.store = memstore.New(nil)
	}
	if o.guard == nil {
		o.guard = replayguard.NewMemory(nil)
	}
	ctx, cancel := context.WithCancel(context.Background())
	reg := services.New()
	done := make(chan struct{})
	go func() { defer close(done); _ = reg.Follow(ctx, o.store) }()
	t.Cleanup(func() { cancel(); <-done })

	env := &svcEnv{store: o.store, registry: reg, signer: newSvcSigner(t, o.store)}
	var err error
	env.cmds, err = commands.NewServices(commands.ServicesConfig{Store: o.store, Pepper: testPepper})
	if err != nil {
		t.Fatal(err)
	}
	env.srv = httptest.NewUnstartedServer(nil)
	env.tokenURL = "http://" + env.srv.Listener.Addr().String() + "/oauth2/token"
	acfg := commands.ClientAuthConfig{Directory: reg, Pepper: testPepper, Replay: o.guard, Issuer: svcIssuer}
	if o.acceptTokenEndpointAud {
		acfg.TokenEndpointAudience = env.tokenURL
	}
	auth, err := commands.NewClientAuthenticator(acfg)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := commands.NewClientCredentialsGrant(commands.ClientCredentialsConfig{Signer: env.signer, Issuer: svcIssuer})
	if err != nil {
		t.Fatal(err)
	}
	ca := api.NewClientAuthenticator(auth, o.limits)
	env.metrics = prometheus.NewRegistry()
	if err := ca.Instrument(env.metrics); err != nil {
		t.Fatal(err)
	}
	te, err := api.NewTokenEndpoint(ca, api.NewClientCredentialsGrant(cc))
	if err != nil {
		t.Fatal(err)
	}
	admin := api.NewAdminServices(env.cmds, reg, api.RequireScope(api.BearerVerifierFunc(env.verifyBearer), api.ServicesAdminScope))
	env.srv.Config.Handler = api.New(api.Config{}, te, admin)
	env.srv.Start()
	t.Cleanup(env.srv.Close)
	return env
}

// verifyBearer stands in for client/verifier in these tests: signature,
// expiry and aud holding the issuer.
func (e *svcEnv) verifyBearer(_ context.Context, raw string) (api.Principal, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return api.Principal{}, err
	}
	var c m2mClaims
	if err := tok.Claims(e.signer.pub, &c); err != nil {
		return api.Principal{}, err
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: svcIssuer, AnyAudience: []string{svcIssuer}, Time: time.Now()}, 0); err != nil {
		return api.Principal{}, err
	}
	return api.Principal{Subject: c.Subject, ClientID: c.ClientID, Scopes: strings.Fields(c.Scope)}, nil
}

// register registers a service and waits until the registry shows it.
func (e *svcEnv) register(t testing.TB, cmd commands.RegisterService) commands.RegisteredService {
	t.Helper()
	res, err := e.cmds.Register(context.Background(), cmd, commands.Metadata{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	e.settle(t, res.Position)
	return res
}

func (e *svcEnv) settle(t testing.TB, pos uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.registry.WaitFor(ctx, pos); err != nil {
		t.Fatalf("registry did not reach position %d: %v", pos, err)
	}
}

func newEdKey(t testing.TB) (ed25519.PrivateKey, client.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k := client.PublicKey{KTY: "OKP", CRV: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub)}
	k.KeyID = k.Thumbprint()
	return priv, k
}

// testPepper keys the v2 client secret hashes in these tests.
var testPepper = func() client.Pepper {
	p, err := client.NewPepper([]byte("a test pepper of at least 32 bytes"))
	if err != nil {
		panic(err)
	}
	return p
}()
