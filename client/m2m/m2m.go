// Package m2m is the token source services import to call each other with
// authledger M2M tokens: a golang.org/x/oauth2 TokenSource for the
// client_credentials grant that refreshes early (about 80 % of the
// lifetime, jittered so a fleet does not refresh in step), collapses
// concurrent refreshes into one request, backs off exponentially on
// errors and opens a circuit breaker on repeated authentication failures,
// so a misconfigured service cannot hammer the token endpoint. It
// authenticates with a client secret (client_secret_basic) or with an
// Ed25519 key (private_key_jwt, RFC 7523). With Config.DPoP its tokens
// are bound to a key it holds (RFC 9449), and Transport signs a proof for
// every request made with them (docs/dpop.md).
package m2m

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/sony/gobreaker/v2"

	"github.com/authledger/authledger/client/dpop"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"
)

// Config configures a Source. Exactly one of ClientSecret and PrivateKey.
type Config struct {
	// TokenURL is authledger's /oauth2/token (required).
	TokenURL string
	// ClientID is the registered client id (required).
	ClientID string
	// ClientSecret authenticates with client_secret_basic.
	ClientSecret string
	// PrivateKey authenticates with private_key_jwt; KeyID names its
	// registered public JWK (optional: the server tries every key).
	PrivateKey ed25519.PrivateKey
	KeyID      string
	// Issuer is authledger's issuer identifier (its metadata's issuer,
	// AUTHLEDGER_ISSUER): the aud of private_key_jwt assertions, sent as a
	// single string (RFC 7523bis; authledger refuses any other aud by
	// default). Default: TokenURL less its /oauth2/token suffix; with a
	// PrivateKey and a TokenURL without that suffix it is required.
	Issuer string
	// AssertionAudience overrides the assertion's aud; default Issuer. Set
	// it to the token endpoint URL only against a server running with
	// AUTHLEDGER_ASSERTION_ACCEPT_TOKEN_ENDPOINT_AUD.
	AssertionAudience string
	// Scopes and Audiences are requested with each token (scope, audience).
	Scopes    []string
	Audiences []string
	// HTTPClient defaults to a client with a 10 s timeout.
	HTTPClient *http.Client
	// Now is the clock for refresh and backoff; nil means time.Now.
	Now func() time.Time
	// RefreshAt is the fraction of the lifetime after which a token is
	// refreshed (default 0.8); Jitter spreads it by ± that fraction of the
	// lifetime (default 0.05).
	RefreshAt float64
	Jitter    float64
	// MinBackoff and MaxBackoff bound the wait after a failed request
	// (defaults 1 s and 1 min), doubling per consecutive failure.
	MinBackoff, MaxBackoff time.Duration
	// BreakerFailures consecutive invalid_client answers open the breaker
	// (default 3); it stays open for BreakerOpen (default 1 min, measured
	// on the wall clock by gobreaker), then lets one request through.
	BreakerFailures uint32
	BreakerOpen     time.Duration
	// Rand returns a float in [0, 1) for jitter; nil means math/rand.
	Rand func() float64
	// DPoP, when set, makes every token request carry a DPoP proof by
	// this key (RFC 9449 §5), so the tokens are bound to it (token_type
	// DPoP); a use_dpop_nonce answer is retried once with the server's
	// nonce. Call the resource servers through Transport, which signs a
	// proof per request. dpop.NewKey makes one; keep it for the
	// process's life (tokens bound to a lost key are useless).
	DPoP *dpop.Key
}

// ErrBackoff is returned while the source waits after a failure and holds
// no valid token; it wraps the last failure.
var ErrBackoff = errors.New("m2m: backing off after a failed token request")

// ErrBreakerOpen is returned while repeated authentication failures keep
// the breaker open.
var ErrBreakerOpen = errors.New("m2m: circuit breaker open after repeated authentication failures")

// RetrieveError is an OAuth error answer from the token endpoint.
type RetrieveError struct {
	Status      int
	Code        string
	Description string
	nonce       string // DPoP-Nonce of a use_dpop_nonce answer
}

func (e *RetrieveError) Error() string {
	return fmt.Sprintf("m2m: token endpoint answered %d %s", e.Status, e.Code)
}

// IsAuthFailure reports whether err says the credentials are wrong.
func IsAuthFailure(err error) bool {
	var re *RetrieveError
	return errors.As(err, &re) && (re.Code == "invalid_client" || re.Status == http.StatusUnauthorized)
}

// Source is an oauth2.TokenSource; safe for concurrent use.
type Source struct {
	cfg     Config
	signer  jose.Signer
	sf      singleflight.Group
	breaker *gobreaker.CircuitBreaker[*oauth2.Token]

	mu        sync.Mutex
	nonce     string // the token endpoint's last DPoP-Nonce
	tok       *oauth2.Token
	refreshAt time.Time
	failures  int
	retryAt   time.Time
	lastErr   error
}

var _ oauth2.TokenSource = (*Source)(nil)

// New validates cfg.
func New(cfg Config) (*Source, error) {
	var errs []error
	if cfg.TokenURL == "" || cfg.ClientID == "" {
		errs = append(errs, errors.New("m2m: TokenURL and ClientID are required"))
	}
	if (cfg.ClientSecret == "") == (len(cfg.PrivateKey) == 0) {
		errs = append(errs, errors.New("m2m: set exactly one of ClientSecret and PrivateKey"))
	}
	if len(cfg.PrivateKey) != 0 && len(cfg.PrivateKey) != ed25519.PrivateKeySize {
		errs = append(errs, errors.New("m2m: PrivateKey is not an Ed25519 private key"))
	}
	if cfg.Issuer == "" {
		if base, ok := strings.CutSuffix(cfg.TokenURL, "/oauth2/token"); ok && base != "" {
			cfg.Issuer = base
		}
	}
	if len(cfg.PrivateKey) != 0 && cfg.Issuer == "" && cfg.AssertionAudience == "" {
		errs = append(errs, errors.New("m2m: Issuer is required with PrivateKey when TokenURL does not end in /oauth2/token"))
	}
	if cfg.RefreshAt < 0 || cfg.RefreshAt >= 1 || cfg.Jitter < 0 || cfg.Jitter >= 0.5 {
		errs = append(errs, errors.New("m2m: RefreshAt must be in [0,1) and Jitter in [0,0.5)"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RefreshAt == 0 {
		cfg.RefreshAt = 0.8
	}
	if cfg.Jitter == 0 {
		cfg.Jitter = 0.05
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(time.Minute, cfg.MinBackoff)
	}
	if cfg.BreakerFailures == 0 {
		cfg.BreakerFailures = 3
	}
	if cfg.BreakerOpen <= 0 {
		cfg.BreakerOpen = time.Minute
	}
	if cfg.Rand == nil {
		cfg.Rand = mrand.Float64
	}
	if cfg.AssertionAudience == "" {
		cfg.AssertionAudience = cfg.Issuer
	}
	s := &Source{cfg: cfg}
	if len(cfg.PrivateKey) != 0 {
		opts := (&jose.SignerOptions{}).WithType("JWT")
		if cfg.KeyID != "" {
			opts = opts.WithHeader("kid", cfg.KeyID)
		}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: cfg.PrivateKey}, opts)
		if err != nil {
			return nil, fmt.Errorf("m2m: signer: %w", err)
		}
		s.signer = signer
	}
	s.breaker = gobreaker.NewCircuitBreaker[*oauth2.Token](gobreaker.Settings{
		Name:        "m2m:" + cfg.ClientID,
		MaxRequests: 1,
		Timeout:     cfg.BreakerOpen,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= cfg.BreakerFailures },
		// Only wrong credentials trip the breaker: they will not fix
		// themselves. Outages and 5xx are left to the backoff.
		IsExcluded: func(err error) bool { return err != nil && !IsAuthFailure(err) },
	})
	return s, nil
}

// BreakerState reports the breaker's state (for metrics and tests).
func (s *Source) BreakerState() gobreaker.State { return s.breaker.State() }

// Token implements oauth2.TokenSource.
func (s *Source) Token() (*oauth2.Token, error) { return s.TokenContext(context.Background()) }

// TokenContext returns a cached token until its refresh time, then fetches
// a new one; while fetching fails it keeps serving the old token as long
// as it is valid.
func (s *Source) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	now := s.cfg.Now()
	s.mu.Lock()
	tok, refreshAt, retryAt, lastErr := s.tok, s.refreshAt, s.retryAt, s.lastErr
	s.mu.Unlock()
	if tok != nil && now.Before(refreshAt) {
		return tok, nil
	}
	valid := tok != nil && now.Before(tok.Expiry)
	if now.Before(retryAt) {
		if valid {
			return tok, nil
		}
		return nil, fmt.Errorf("%w: %w", ErrBackoff, lastErr)
	}
	v, err, _ := s.sf.Do("token", func() (any, error) { return s.refresh(ctx) })
	if err != nil {
		if valid {
			return tok, nil
		}
		return nil, err
	}
	return v.(*oauth2.Token), nil
}

func (s *Source) refresh(ctx context.Context) (*oauth2.Token, error) {
	// A caller that queued behind a flight that just finished must not
	// start a second request.
	now := s.cfg.Now()
	s.mu.Lock()
	if s.tok != nil && now.Before(s.refreshAt) {
		t := s.tok
		s.mu.Unlock()
		return t, nil
	}
	s.mu.Unlock()

	tok, err := s.breaker.Execute(func() (*oauth2.Token, error) { return s.request(ctx, now) })
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
			err = fmt.Errorf("%w: %w", ErrBreakerOpen, s.lastErr)
		}
		s.failures++
		d := float64(s.cfg.MinBackoff) * math.Pow(2, float64(s.failures-1))
		d = min(d, float64(s.cfg.MaxBackoff))
		d *= 0.5 + 0.5*s.cfg.Rand() // full jitter on the upper half
		s.retryAt = now.Add(time.Duration(d))
		if !errors.Is(err, ErrBreakerOpen) {
			s.lastErr = err
		}
		return nil, err
	}
	s.failures, s.retryAt, s.lastErr = 0, time.Time{}, nil
	life := tok.Expiry.Sub(now)
	frac := s.cfg.RefreshAt + (2*s.cfg.Rand()-1)*s.cfg.Jitter
	s.tok, s.refreshAt = tok, now.Add(time.Duration(float64(life)*frac))
	return tok, nil
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func (s *Source) request(ctx context.Context, now time.Time) (*oauth2.Token, error) {
	tok, err := s.requestOnce(ctx, now)
	var re *RetrieveError
	if s.cfg.DPoP != nil && errors.As(err, &re) && re.Code == "use_dpop_nonce" && re.nonce != "" {
		// RFC 9449 §8: the server wants its nonce; one retry carries it.
		s.mu.Lock()
		s.nonce = re.nonce
		s.mu.Unlock()
		return s.requestOnce(ctx, now)
	}
	return tok, err
}

func (s *Source) requestOnce(ctx context.Context, now time.Time) (*oauth2.Token, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(s.cfg.Scopes) > 0 {
		form.Set("scope", strings.Join(s.cfg.Scopes, " "))
	}
	for _, a := range s.cfg.Audiences {
		form.Add("audience", a)
	}
	if s.signer != nil {
		a, err := s.assertion(now)
		if err != nil {
			return nil, err
		}
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", a)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if s.cfg.DPoP != nil {
		s.mu.Lock()
		nonce := s.nonce
		s.mu.Unlock()
		proof, err := s.cfg.DPoP.Proof(http.MethodPost, s.cfg.TokenURL, dpop.ProofOptions{Nonce: nonce, Now: now})
		if err != nil {
			return nil, fmt.Errorf("m2m: DPoP proof: %w", err)
		}
		req.Header.Set("DPoP", proof)
	}
	if s.signer == nil {
		// RFC 6749 §2.3.1: form-encode each part before Basic.
		req.SetBasicAuth(url.QueryEscape(s.cfg.ClientID), url.QueryEscape(s.cfg.ClientSecret))
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("m2m: token request: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("m2m: token response: %w", err)
	}
	var tr tokenResponse
	_ = json.Unmarshal(body, &tr)
	if n := resp.Header.Get("DPoP-Nonce"); n != "" && s.cfg.DPoP != nil {
		s.mu.Lock()
		s.nonce = n
		s.mu.Unlock()
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &RetrieveError{Status: resp.StatusCode, Code: tr.Error, Description: tr.Description, nonce: resp.Header.Get("DPoP-Nonce")}
	}
	// With a DPoP key only a DPoP token will do: a Bearer answer means the
	// server ignored the proof, and the caller asked for a bound token.
	want := "Bearer"
	if s.cfg.DPoP != nil {
		want = "DPoP"
	}
	if tr.AccessToken == "" || !strings.EqualFold(tr.TokenType, want) || tr.ExpiresIn <= 0 {
		return nil, &RetrieveError{Status: resp.StatusCode, Code: "invalid_response"}
	}
	tok := &oauth2.Token{AccessToken: tr.AccessToken, TokenType: want, Expiry: now.Add(time.Duration(tr.ExpiresIn) * time.Second)}
	return tok.WithExtra(map[string]any{"scope": tr.Scope}), nil
}

// assertion builds a private_key_jwt good for two minutes, under the
// server's five-minute bound even with clock skew.
func (s *Source) assertion(now time.Time) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	// One audience: go-jose writes it as a single string, as RFC 7523bis asks.
	return jwt.Signed(s.signer).Claims(jwt.Claims{
		Issuer: s.cfg.ClientID, Subject: s.cfg.ClientID, Audience: jwt.Audience{s.cfg.AssertionAudience},
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(2 * time.Minute)), ID: hex.EncodeToString(b[:]),
	}).Serialize()
}
