package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"authledger/commands"
	"authledger/domain/oauth"
)

// AuthenticatedClient is a client that proved its identity on this request.
type AuthenticatedClient = commands.AuthenticatedClient

// ClientAuthenticator authenticates clients at /oauth2/token,
// /oauth2/introspect and /oauth2/revoke: client_secret_basic (RFC 6749
// §2.3.1), client_secret_post and private_key_jwt (RFC 7523 §2.2), exactly
// one per request, with the rate limits of DESIGN.md §5 applied first.
type ClientAuthenticator struct {
	auth    *commands.ClientAuthenticator
	limits  *RateLimiter
	results *prometheus.CounterVec // nil until Instrument
}

// NewClientAuthenticator wraps the command-side checks with HTTP parsing and
// rate limits; limits may be nil (no limits: tests and benchmarks only).
func NewClientAuthenticator(auth *commands.ClientAuthenticator, limits *RateLimiter) *ClientAuthenticator {
	return &ClientAuthenticator{auth: auth, limits: limits}
}

// Instrument counts authentications by method and result
// (authledger_client_authentications_total) on reg. Call it once, at wiring.
func (a *ClientAuthenticator) Instrument(reg prometheus.Registerer) error {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authledger_client_authentications_total",
		Help: "Client authentications at the OAuth endpoints by method and result (ok, invalid_client, rate_limited, invalid_request, error).",
	}, []string{"method", "result"})
	if err := reg.Register(c); err != nil {
		return err
	}
	a.results = c
	return nil
}

func (a *ClientAuthenticator) count(method commands.AuthMethod, result string) {
	if a.results != nil {
		if method == "" {
			method = "none"
		}
		a.results.WithLabelValues(string(method), result).Inc()
	}
}

// Authenticate reads the client's credentials from the request (Basic
// header or form body; the body must be form-urlencoded and is parsed
// here) and checks them. Every failure is oauth.ErrInvalidClient (401,
// WWW-Authenticate) except a request carrying several methods
// (invalid_request) and rate limiting (slow_down, 429).
func (a *ClientAuthenticator) Authenticate(c echo.Context) (AuthenticatedClient, error) {
	req := c.Request()
	if err := parseOAuthForm(req); err != nil {
		return AuthenticatedClient{}, err
	}
	cred, err := credentialsFrom(req)
	if err != nil {
		a.count(cred.Method, oauthCode(err))
		return AuthenticatedClient{}, err
	}
	now := time.Now()
	addr := sourceAddress(c)
	if a.limits != nil {
		if wait, ok := a.limits.admit(req.Context(), cred.ClientID, addr, now); !ok {
			a.count(cred.Method, "rate_limited")
			return AuthenticatedClient{}, slowDown(c, wait)
		}
	}
	ac, err := a.auth.Authenticate(req.Context(), cred)
	if err != nil {
		if a.limits != nil && isInvalidClient(err) {
			a.limits.failed(req.Context(), cred.ClientID, addr, now)
		}
		a.count(cred.Method, oauthCode(err))
		return AuthenticatedClient{}, err
	}
	a.count(cred.Method, "ok")
	return ac, nil
}

func oauthCode(err error) string {
	if oe, ok := err.(*oauth.Error); ok {
		switch oe.Code {
		case oauth.ErrInvalidClient.Code, oauth.ErrInvalidRequest.Code:
			return oe.Code
		}
	}
	return "error"
}

func isInvalidClient(err error) bool {
	oe, ok := err.(*oauth.Error)
	return ok && oe.Code == oauth.ErrInvalidClient.Code
}

func slowDown(c echo.Context, wait time.Duration) error {
	secs := int(wait.Seconds() + 0.999)
	if secs < 1 {
		secs = 1
	}
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	return oauth.ErrSlowDown.WithHint("too many requests; retry later")
}

// sourceAddress is the peer address. Forwarded headers are only believed
// when the server was configured with an IP extractor for its proxies;
// otherwise a client could pick its own rate-limit bucket.
func sourceAddress(c echo.Context) string {
	if c.Echo().IPExtractor != nil {
		return c.RealIP()
	}
	host, _, err := net.SplitHostPort(c.Request().RemoteAddr)
	if err != nil {
		return c.Request().RemoteAddr
	}
	return host
}

// MaxOAuthFormBytes bounds an OAuth request body.
const MaxOAuthFormBytes = 16 << 10

// parseOAuthForm requires application/x-www-form-urlencoded (RFC 6749
// §3.2) and refuses repeated parameters (§3.1), except the RFC 8707
// resource and our audience, which may repeat.
func parseOAuthForm(req *http.Request) error {
	if req.PostForm != nil {
		return nil // already parsed and checked by an earlier call
	}
	ct := req.Header.Get(echo.HeaderContentType)
	if mt, _, _ := strings.Cut(ct, ";"); !strings.EqualFold(strings.TrimSpace(mt), echo.MIMEApplicationForm) {
		return oauth.ErrInvalidRequest.WithHint("content type must be application/x-www-form-urlencoded")
	}
	req.Body = http.MaxBytesReader(nil, req.Body, MaxOAuthFormBytes)
	if err := req.ParseForm(); err != nil {
		return oauth.ErrInvalidRequest.WithHint("malformed form body")
	}
	for k, vs := range req.PostForm {
		if len(vs) > 1 && k != "resource" && k != "audience" {
			return oauth.ErrInvalidRequest.WithHint("parameter " + k + " repeated")
		}
	}
	return nil
}

func credentialsFrom(req *http.Request) (commands.ClientCredentials, error) {
	form := req.PostForm
	var methods []commands.ClientCredentials
	if h := req.Header.Get(echo.HeaderAuthorization); h != "" {
		scheme, rest, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Basic") {
			return commands.ClientCredentials{}, oauth.ErrInvalidClient.WithDebug("unsupported authorization scheme")
		}
		id, secret, ok := parseBasic(strings.TrimSpace(rest))
		if !ok {
			return commands.ClientCredentials{}, oauth.ErrInvalidClient.WithDebug("malformed basic credentials")
		}
		methods = append(methods, commands.ClientCredentials{Method: commands.AuthSecretBasic, ClientID: id, Secret: secret})
	}
	if _, ok := form["client_secret"]; ok {
		methods = append(methods, commands.ClientCredentials{Method: commands.AuthSecretPost, ClientID: form.Get("client_id"), Secret: form.Get("client_secret")})
	}
	_, hasType := form["client_assertion_type"]
	_, hasAssertion := form["client_assertion"]
	if hasType || hasAssertion {
		if form.Get("client_assertion_type") != commands.ClientAssertionType {
			return commands.ClientCredentials{}, oauth.ErrInvalidClient.WithDebug("unsupported client_assertion_type")
		}
		methods = append(methods, commands.ClientCredentials{Method: commands.AuthPrivateKeyJWT, ClientID: form.Get("client_id"), Assertion: form.Get("client_assertion")})
		if methods[len(methods)-1].ClientID == "" {
			// client_id is optional with an assertion (RFC 7523 §3); the
			// unverified sub names the client for rate limiting only, and
			// authentication checks it against the signature.
			methods[len(methods)-1].ClientID = assertionSubject(form.Get("client_assertion"))
		}
	}
	switch len(methods) {
	case 0:
		return commands.ClientCredentials{}, oauth.ErrInvalidClient.WithDebug("no client authentication")
	case 1:
	default:
		return commands.ClientCredentials{}, oauth.ErrInvalidRequest.WithHint("use exactly one client authentication method")
	}
	cred := methods[0]
	if id := form.Get("client_id"); cred.Method == commands.AuthSecretBasic && id != "" && id != cred.ClientID {
		return commands.ClientCredentials{}, oauth.ErrInvalidRequest.WithHint("client_id differs from the authenticated client")
	}
	return cred, nil
}

// assertionSubject returns the sub of a compact JWS without verifying it,
// or "" when it cannot be read.
func assertionSubject(raw string) string {
	if len(raw) > commands.MaxAssertionBytes {
		return ""
	}
	parts := strings.SplitN(raw, ".", 3)
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var p struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(b, &p) != nil || len(p.Sub) > 256 {
		return ""
	}
	return p.Sub
}

// parseBasic decodes RFC 6749 §2.3.1 Basic credentials: the id and secret
// are each form-urlencoded before being joined with ':' and base64ed.
func parseBasic(b64 string) (id, secret string, ok bool) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", "", false
	}
	u, p, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", false
	}
	if id, err = url.QueryUnescape(u); err != nil {
		return "", "", false
	}
	if secret, err = url.QueryUnescape(p); err != nil {
		return "", "", false
	}
	if id == "" {
		return "", "", false
	}
	return id, secret, true
}

// RateLimits are the token-endpoint limits of DESIGN.md §5. A zero field
// takes its default.
type RateLimits struct {
	// PerClient limits every token-endpoint request naming one client id,
	// authenticated or not. Default 100/s, burst 200.
	PerClient      rate.Limit
	PerClientBurst int
	// FailuresPerClient limits failed authentications for one client id:
	// default 1/s, burst 20, so a burst of a few hundred wrong secrets
	// for one client gets 20 answers and then 429s.
	FailuresPerClient      rate.Limit
	FailuresPerClientBurst int
	// FailuresPerAddress limits failed authentications from one source
	// address, whatever client id it names: default 1/s, burst 20.
	FailuresPerAddress      rate.Limit
	FailuresPerAddressBurst int
	// MaxKeys bounds each limiter's table; default 100 000.
	MaxKeys int
}

// DefaultRateLimits returns the documented defaults.
func DefaultRateLimits() RateLimits {
	return RateLimits{PerClient: 100, PerClientBurst: 200, FailuresPerClient: 1, FailuresPerClientBurst: 20,
		FailuresPerAddress: 1, FailuresPerAddressBurst: 20, MaxKeys: 100_000}
}

func (l RateLimits) withDefaults() RateLimits {
	d := DefaultRateLimits()
	if l.PerClient == 0 {
		l.PerClient, l.PerClientBurst = d.PerClient, d.PerClientBurst
	}
	if l.FailuresPerClient == 0 {
		l.FailuresPerClient, l.FailuresPerClientBurst = d.FailuresPerClient, d.FailuresPerClientBurst
	}
	if l.FailuresPerAddress == 0 {
		l.FailuresPerAddress, l.FailuresPerAddressBurst = d.FailuresPerAddress, d.FailuresPerAddressBurst
	}
	if l.MaxKeys <= 0 {
		l.MaxKeys = d.MaxKeys
	}
	return l
}

// RateLimiter applies RateLimits: in process (golang.org/x/time/rate) by
// default, or shared by every instance through Redis.
type RateLimiter struct {
	perClient, failClient, failAddr buckets
}

// buckets is one keyed limit.
type buckets interface {
	// take spends a token for key, or says how long until one is free.
	take(ctx context.Context, key string, now time.Time) (time.Duration, bool)
	// hasToken reports whether take would succeed, spending nothing.
	hasToken(ctx context.Context, key string, now time.Time) (time.Duration, bool)
}

// NewRateLimiter builds in-process limiters.
func NewRateLimiter(l RateLimits) *RateLimiter {
	l = l.withDefaults()
	return &RateLimiter{
		perClient:  newKeyedLimiter(l.PerClient, l.PerClientBurst, l.MaxKeys),
		failClient: newKeyedLimiter(l.FailuresPerClient, l.FailuresPerClientBurst, l.MaxKeys),
		failAddr:   newKeyedLimiter(l.FailuresPerAddress, l.FailuresPerAddressBurst, l.MaxKeys),
	}
}

// NewRedisRateLimiter shares the limits between instances: each key is a
// GCRA "theoretical arrival time" in Redis under prefix, updated by one Lua
// script (atomic, one round trip). If Redis fails, the instance falls back
// to its own in-process limits rather than refusing every client.
func NewRedisRateLimiter(l RateLimits, rdb redis.UniversalClient, prefix string) *RateLimiter {
	l = l.withDefaults()
	mk := func(name string, limit rate.Limit, burst int) buckets {
		return &redisBuckets{rdb: rdb, prefix: prefix + name + ":", limit: limit, burst: burst, fallback: newKeyedLimiter(limit, burst, l.MaxKeys)}
	}
	return &RateLimiter{
		perClient:  mk("client", l.PerClient, l.PerClientBurst),
		failClient: mk("fail-client", l.FailuresPerClient, l.FailuresPerClientBurst),
		failAddr:   mk("fail-addr", l.FailuresPerAddress, l.FailuresPerAddressBurst),
	}
}

// admit spends one request for the client id and refuses an address or a
// client id whose failure budget is exhausted.
func (r *RateLimiter) admit(ctx context.Context, clientID, addr string, now time.Time) (time.Duration, bool) {
	if w, ok := r.failAddr.hasToken(ctx, addr, now); !ok {
		return w, false
	}
	if clientID == "" {
		return 0, true
	}
	if w, ok := r.failClient.hasToken(ctx, clientID, now); !ok {
		return w, false
	}
	return r.perClient.take(ctx, clientID, now)
}

func (r *RateLimiter) failed(ctx context.Context, clientID, addr string, now time.Time) {
	r.failAddr.take(ctx, addr, now)
	if clientID != "" {
		r.failClient.take(ctx, clientID, now)
	}
}

// gcraScript is GCRA over one key holding the theoretical arrival time in
// microseconds. ARGV: now µs, emission interval µs, burst, spend (1 or 0).
// Returns {allowed, retry µs}.
var gcraScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if now < allow_at then
  return {0, allow_at - now}
end
if ARGV[4] == '1' then
  redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
end
return {1, 0}
`)

var errRedisDown = errors.New("api: rate limit: redis marked down")

type redisBuckets struct {
	rdb      redis.UniversalClient
	prefix   string
	limit    rate.Limit
	burst    int
	fallback *keyedLimiter
	// downUntil (unix ns, wall clock) skips Redis for a while after an
	// error, so an outage does not add a dial timeout to every request.
	downUntil atomic.Int64
}

// redisRetryAfter is how long a failed Redis limiter stays on the local one.
const redisRetryAfter = 2 * time.Second

func (b *redisBuckets) run(ctx context.Context, key string, now time.Time, spend bool) (time.Duration, bool, error) {
	if time.Now().UnixNano() < b.downUntil.Load() {
		return 0, false, errRedisDown
	}
	interval := int64(float64(time.Second/time.Microsecond) / float64(b.limit))
	sp := "0"
	if spend {
		sp = "1"
	}
	res, err := gcraScript.Run(ctx, b.rdb, []string{b.prefix + key}, now.UnixMicro(), interval, b.burst, sp).Int64Slice()
	if err != nil || len(res) != 2 {
		b.downUntil.Store(time.Now().Add(redisRetryAfter).UnixNano())
		return 0, false, fmt.Errorf("api: rate limit: %w", err)
	}
	return time.Duration(res[1]) * time.Microsecond, res[0] == 1, nil
}

func (b *redisBuckets) take(ctx context.Context, key string, now time.Time) (time.Duration, bool) {
	w, ok, err := b.run(ctx, key, now, true)
	if err != nil {
		return b.fallback.take(ctx, key, now)
	}
	return w, ok
}

func (b *redisBuckets) hasToken(ctx context.Context, key string, now time.Time) (time.Duration, bool) {
	w, ok, err := b.run(ctx, key, now, false)
	if err != nil {
		return b.fallback.hasToken(ctx, key, now)
	}
	return w, ok
}

type keyedLimiter struct {
	mu    sync.Mutex
	m     map[string]*rate.Limiter
	limit rate.Limit
	burst int
	max   int
}

func newKeyedLimiter(limit rate.Limit, burst, max int) *keyedLimiter {
	return &keyedLimiter{m: map[string]*rate.Limiter{}, limit: limit, burst: burst, max: max}
}

func (k *keyedLimiter) get(key string, now time.Time) *rate.Limiter {
	k.mu.Lock()
	defer k.mu.Unlock()
	l := k.m[key]
	if l == nil {
		if len(k.m) >= k.max {
			// Full buckets carry no information; dropping them bounds
			// memory without forgiving anyone who is being limited.
			for key, l := range k.m {
				if l.TokensAt(now) >= float64(k.burst) {
					delete(k.m, key)
				}
			}
		}
		l = rate.NewLimiter(k.limit, k.burst)
		if len(k.m) < k.max {
			k.m[key] = l
		}
	}
	return l
}

func (k *keyedLimiter) take(_ context.Context, key string, now time.Time) (time.Duration, bool) {
	l := k.get(key, now)
	res := l.ReserveN(now, 1)
	if !res.OK() {
		return time.Second, false
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}

func (k *keyedLimiter) hasToken(_ context.Context, key string, now time.Time) (time.Duration, bool) {
	k.mu.Lock()
	l := k.m[key]
	k.mu.Unlock()
	if l == nil {
		return 0, true
	}
	if t := l.TokensAt(now); t < 1 {
		return time.Duration((1 - t) / float64(k.limit) * float64(time.Second)), false
	}
	return 0, true
}
