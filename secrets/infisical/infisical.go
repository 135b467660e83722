// Package infisical is the production secret provider: secrets.Provider on
// Infisical, through github.com/infisical/go-sdk, reached with a machine
// identity (Universal Auth or Kubernetes Auth). It is the only package
// that imports the SDK (tests/arch enforces it).
//
// Names map onto Infisical's folders: "signing-key/<kid>" is the secret
// <kid> in the folder <Path>/signing-key of the configured project and
// environment, created on first write. Values are stored base64-encoded
// (keys are binary; Infisical values are text). Versions are Infisical's
// own secret versions ("1", "2", …), so a reference the ledger recorded is
// read back at exactly that version.
//
// Every call runs under a deadline, through one circuit breaker, with
// retries (capped exponential backoff with full jitter) for failures that
// may pass: transport errors, timeouts, 429 and 5xx. 401 triggers one
// fresh login; 403 and 4xx are ErrDenied and never retried.
//
// Reads go through an in-process cache: a pinned version never changes in
// Infisical, so it is kept; the newest version of a name is kept for
// CacheTTL and then re-read. While Infisical cannot be reached, a cached
// value (even an expired one) is served and Health reports degraded.
package infisical

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	sdk "github.com/infisical/go-sdk"
	sdkerrors "github.com/infisical/go-sdk/packages/errors"
	"github.com/infisical/go-sdk/packages/models"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"

	"github.com/authledger/authledger/secrets"
)

// Auth is how the machine identity logs in: Universal Auth when ClientID
// is set, Kubernetes Auth when KubernetesIdentityID is.
type Auth struct {
	ClientID     string
	ClientSecret secrets.Value
	// KubernetesIdentityID and KubernetesTokenPath (default
	// /var/run/secrets/kubernetes.io/serviceaccount/token) select
	// Kubernetes Auth: the service-account token is re-read at each login.
	KubernetesIdentityID string
	KubernetesTokenPath  string
}

// Options configures Open.
type Options struct {
	// SiteURL is Infisical's address, e.g. https://eu.infisical.com (the
	// SDK appends /api).
	SiteURL     string
	Project     string // project (workspace) id
	Environment string // environment slug: dev, staging, prod
	// Path is the folder holding authledger's secrets, e.g. /authledger.
	Path string
	Auth Auth

	// CacheTTL bounds how long the newest version of a name is served
	// without asking Infisical again. Default 5 min.
	CacheTTL time.Duration
	// CallTimeout bounds one HTTP call. Default 5 s.
	CallTimeout time.Duration
	// Retries is how many times a call that may pass is tried again.
	// Default 3; negative means none.
	Retries int
	// RetryBase and RetryMax shape the backoff. Defaults 100 ms and 2 s.
	RetryBase, RetryMax time.Duration
	// BreakerFailures consecutive failed calls open the breaker for
	// BreakerOpenFor. Defaults 5 and 10 s.
	BreakerFailures int
	BreakerOpenFor  time.Duration

	// Registerer, when set, receives the provider's metrics.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

func (o *Options) defaults() error {
	if o.SiteURL == "" || o.Project == "" || o.Environment == "" {
		return errors.New("infisical: site URL, project and environment are required")
	}
	if o.Path == "" {
		o.Path = "/"
	}
	o.Path = path.Clean("/" + o.Path)
	if (o.Auth.ClientID == "") == (o.Auth.KubernetesIdentityID == "") {
		return errors.New("infisical: configure exactly one of Universal Auth (client id and secret) or Kubernetes Auth (identity id)")
	}
	if o.Auth.ClientID != "" && o.Auth.ClientSecret.Len() == 0 {
		return errors.New("infisical: Universal Auth needs a client secret")
	}
	if o.Auth.KubernetesIdentityID != "" && o.Auth.KubernetesTokenPath == "" {
		o.Auth.KubernetesTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	}
	if o.CacheTTL <= 0 {
		o.CacheTTL = 5 * time.Minute
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 5 * time.Second
	}
	if o.Retries == 0 {
		o.Retries = 3
	}
	if o.RetryBase <= 0 {
		o.RetryBase = 100 * time.Millisecond
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 2 * time.Second
	}
	if o.BreakerFailures <= 0 {
		o.BreakerFailures = 5
	}
	if o.BreakerOpenFor <= 0 {
		o.BreakerOpenFor = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return nil
}

// maxInFlight bounds the SDK calls running at once. The SDK takes no
// context, so a call abandoned at its deadline keeps its goroutine until
// the HTTP exchange ends; the bound keeps a hung server from piling them up.
const maxInFlight = 32

type cached struct {
	sec     secrets.Secret
	fetched time.Time
}

// Provider is the Infisical secret provider.
type Provider struct {
	opts   Options
	client sdk.InfisicalClientInterface
	stop   context.CancelFunc
	cb     *gobreaker.CircuitBreaker[any]
	sem    chan struct{}
	m      *metrics
	now    func() time.Time

	loginMu sync.Mutex

	mu       sync.Mutex
	latest   map[string]cached // by name
	pinned   map[string]cached // by name + "\n" + version
	degraded error             // the last transient failure, nil after a success
	lastCall time.Time
	probing  bool
}

var _ secrets.Provider = (*Provider)(nil)

// Open builds the client and logs in. Start-up with Infisical down is
// refused: the error wraps secrets.ErrUnavailable (or ErrDenied for
// credentials Infisical does not accept) and names no credential.
func Open(ctx context.Context, opts Options) (*Provider, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	life, stop := context.WithCancel(context.Background())
	client := sdk.NewInfisicalClient(life, sdk.Config{
		SiteUrl:          strings.TrimSuffix(opts.SiteURL, "/"),
		UserAgent:        "authledger",
		AutoTokenRefresh: sdk.BoolPtr(true), // renews the access token before it expires
		SilentMode:       true,
		LogWriter:        io.Discard,
		// Retries are ours (with the breaker and the deadline around
		// them): the SDK's own would wait seconds inside one call.
		RetryRequestsConfig: &sdk.RetryRequestsConfig{ExponentialBackoff: &sdk.ExponentialBackoffStrategy{MaxRetries: 0}},
		// The cache is ours too: it must serve stale values during an
		// outage and drop entries when a webhook says so.
		CacheExpiryInSeconds: 0,
	})
	p := &Provider{opts: opts, client: client, stop: stop, sem: make(chan struct{}, maxInFlight),
		latest: map[string]cached{}, pinned: map[string]cached{}, now: time.Now}
	p.m = newMetrics(opts.Registerer)
	p.cb = gobreaker.NewCircuitBreaker[any](gobreaker.Settings{
		Name:        "infisical",
		MaxRequests: 1,
		Timeout:     opts.BreakerOpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= uint32(opts.BreakerFailures) },
		// Only failures that say Infisical is unwell count; a 404 or a
		// 403 is a healthy answer.
		IsSuccessful: func(err error) bool { return err == nil || !transient(err) },
		// The caller giving up says nothing about Infisical.
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			p.m.breaker(to)
			opts.Logger.Warn("infisical: circuit breaker", "from", from.String(), "to", to.String())
		},
	})
	p.m.state.Set(0)
	if err := p.login(ctx); err != nil {
		stop()
		return nil, fmt.Errorf("infisical: start-up refused, no login to %s: %w", opts.SiteURL, err)
	}
	return p, nil
}

// Close stops the token renewal.
func (p *Provider) Close() error {
	p.stop()
	return nil
}

// Health is nil while the last call to Infisical succeeded, and a
// *Degraded error while calls fail and cached values are served.
func (p *Provider) Health(ctx context.Context) error {
	p.mu.Lock()
	probe := p.now().Sub(p.lastCall) > probeAfter && !p.probing
	p.probing = p.probing || probe
	p.mu.Unlock()
	if probe {
		// Nothing asked Infisical lately: ask it something cheap, in the
		// background (a slow Infisical must not make /readyz slow), so the
		// next answer does not report a state from long ago.
		go func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.CallTimeout)
			defer cancel()
			_, _ = p.once(ctx, "probe", func() (any, error) {
				return p.client.Folders().List(sdk.ListFoldersOptions{ProjectID: p.opts.Project, Environment: p.opts.Environment, Path: p.opts.Path})
			})
			p.mu.Lock()
			p.probing = false
			p.mu.Unlock()
		}()
	}
	p.mu.Lock()
	err := p.degraded
	p.mu.Unlock()
	if st := p.cb.State(); st != gobreaker.StateClosed {
		return &Degraded{Reason: "infisical unreachable (circuit breaker " + st.String() + "); serving cached secrets"}
	}
	if err != nil {
		return &Degraded{Reason: "infisical calls failing; serving cached secrets"}
	}
	return nil
}

// Degraded is Health's answer while Infisical cannot be reached. Its
// Reason is a fixed phrase, safe to show on /readyz.
type Degraded struct{ Reason string }

func (d *Degraded) Error() string { return d.Reason }

// Where is the project, environment and folder this provider reads.
func (p *Provider) Where() (project, environment, folder string) {
	return p.opts.Project, p.opts.Environment, p.opts.Path
}

func (p *Provider) login(ctx context.Context) error {
	p.loginMu.Lock()
	defer p.loginMu.Unlock()
	_, err := p.do(ctx, "login", func() (any, error) {
		if p.opts.Auth.ClientID != "" {
			return p.client.Auth().UniversalAuthLogin(p.opts.Auth.ClientID, string(p.opts.Auth.ClientSecret.Bytes()))
		}
		return p.client.Auth().KubernetesAuthLogin(p.opts.Auth.KubernetesIdentityID, p.opts.Auth.KubernetesTokenPath)
	})
	if err != nil {
		return p.wrap(err, "login")
	}
	return nil
}

// split maps a secret name to Infisical's folder and key.
func (p *Provider) split(name string) (folder, key string) {
	dir, key := path.Split(name)
	return path.Join(p.opts.Path, dir), key
}

// join is split's inverse.
func (p *Provider) join(folder, key string) (string, bool) {
	rel, ok := strings.CutPrefix(folder, p.opts.Path)
	if !ok || (rel != "" && !strings.HasPrefix(rel, "/") && p.opts.Path != "/") {
		return "", false
	}
	rel = strings.Trim(rel, "/")
	if rel == "" {
		return key, true
	}
	return rel + "/" + key, true
}

func (p *Provider) Put(ctx context.Context, name string, value []byte) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := secrets.ValidateName(name); err != nil {
		return "", err
	}
	if len(value) > secrets.MaxValueBytes {
		return "", fmt.Errorf("%w: %d bytes", secrets.ErrTooLarge, len(value))
	}
	folder, key := p.split(name)
	enc := base64.StdEncoding.EncodeToString(value)
	create := func() (any, error) {
		return p.client.Secrets().Create(sdk.CreateSecretOptions{SecretKey: key, ProjectID: p.opts.Project,
			Environment: p.opts.Environment, SecretPath: folder, Type: "shared", SecretValue: enc})
	}
	update := func() (any, error) {
		return p.client.Secrets().Update(sdk.UpdateSecretOptions{SecretKey: key, ProjectID: p.opts.Project,
			Environment: p.opts.Environment, SecretPath: folder, Type: "shared", NewSecretValue: enc})
	}
	res, err := p.do(ctx, "create", create)
	if status(err) == 404 { // the folder does not exist yet
		if ferr := p.ensureFolder(ctx, folder); ferr != nil {
			return "", ferr
		}
		res, err = p.do(ctx, "create", create)
	}
	if status(err) == 400 { // it exists: a new version
		res, err = p.do(ctx, "update", update)
	}
	if err != nil {
		return "", p.wrap(err, name)
	}
	s := res.(models.Secret)
	v := strconv.Itoa(s.Version)
	p.mu.Lock()
	delete(p.latest, name)
	p.mu.Unlock()
	return v, nil
}

// ensureFolder creates folder and its parents (Infisical answers an
// existing folder with itself). The identity's privilege must cover them:
// docs/infisical/ has the set-up script create the configured path.
func (p *Provider) ensureFolder(ctx context.Context, folder string) error {
	parent := "/"
	for _, part := range strings.Split(strings.Trim(folder, "/"), "/") {
		if part == "" {
			continue
		}
		_, err := p.do(ctx, "create-folder", func() (any, error) {
			return p.client.Folders().Create(sdk.CreateFolderOptions{ProjectID: p.opts.Project, Environment: p.opts.Environment,
				Name: part, Path: parent})
		})
		if err != nil {
			return p.wrap(err, folder)
		}
		parent = path.Join(parent, part)
	}
	return nil
}

func (p *Provider) Get(ctx context.Context, name string) (secrets.Secret, error) {
	if err := ctx.Err(); err != nil {
		return secrets.Secret{}, err
	}
	if err := secrets.ValidateName(name); err != nil {
		return secrets.Secret{}, err
	}
	p.mu.Lock()
	c, ok := p.latest[name]
	p.mu.Unlock()
	if ok && p.now().Sub(c.fetched) < p.opts.CacheTTL {
		p.m.cache.WithLabelValues("hit").Inc()
		return c.sec, nil
	}
	sec, err := p.retrieve(ctx, name, 0)
	if err != nil {
		if ok && errors.Is(err, secrets.ErrUnavailable) {
			p.m.cache.WithLabelValues("stale").Inc()
			return c.sec, nil
		}
		if errors.Is(err, secrets.ErrNotFound) {
			p.mu.Lock()
			delete(p.latest, name)
			p.mu.Unlock()
		}
		return secrets.Secret{}, err
	}
	p.m.cache.WithLabelValues("miss").Inc()
	p.mu.Lock()
	p.latest[name] = cached{sec: sec, fetched: p.now()}
	p.pinned[name+"\n"+sec.Version] = cached{sec: sec, fetched: p.now()}
	p.mu.Unlock()
	return sec, nil
}

func (p *Provider) GetVersion(ctx context.Context, name, version string) (secrets.Secret, error) {
	if err := ctx.Err(); err != nil {
		return secrets.Secret{}, err
	}
	if err := secrets.ValidateName(name); err != nil {
		return secrets.Secret{}, err
	}
	n, err := strconv.Atoi(version)
	if err != nil || n < 1 || strconv.Itoa(n) != version {
		return secrets.Secret{}, fmt.Errorf("%w: %s version %q", secrets.ErrNotFound, name, version)
	}
	p.mu.Lock()
	c, ok := p.pinned[name+"\n"+version]
	p.mu.Unlock()
	if ok {
		// A version's value never changes in Infisical: no expiry.
		p.m.cache.WithLabelValues("hit").Inc()
		return c.sec, nil
	}
	sec, err := p.retrieve(ctx, name, n)
	if err != nil {
		return secrets.Secret{}, err
	}
	p.m.cache.WithLabelValues("miss").Inc()
	p.mu.Lock()
	p.pinned[name+"\n"+version] = cached{sec: sec, fetched: p.now()}
	p.mu.Unlock()
	return sec, nil
}

func (p *Provider) retrieve(ctx context.Context, name string, version int) (secrets.Secret, error) {
	folder, key := p.split(name)
	res, err := p.do(ctx, "retrieve", func() (any, error) {
		return p.client.Secrets().Retrieve(sdk.RetrieveSecretOptions{SecretKey: key, ProjectID: p.opts.Project,
			Environment: p.opts.Environment, SecretPath: folder, Type: "shared", Version: version})
	})
	if err != nil {
		return secrets.Secret{}, p.wrap(err, name)
	}
	s := res.(models.Secret)
	if version != 0 && s.Version != version {
		return secrets.Secret{}, fmt.Errorf("%w: %s version %d answered as version %d", secrets.ErrCorrupt, name, version, s.Version)
	}
	b, err := base64.StdEncoding.DecodeString(s.SecretValue)
	if err != nil {
		// Not written by authledger (a value typed by hand?): refuse it
		// rather than guess, and never echo it.
		return secrets.Secret{}, fmt.Errorf("%w: %s version %d is not base64", secrets.ErrCorrupt, name, s.Version)
	}
	return secrets.Secret{Name: name, Version: strconv.Itoa(s.Version), Value: secrets.NewValue(b)}, nil
}

func (p *Provider) Delete(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := secrets.ValidateName(name); err != nil {
		return err
	}
	folder, key := p.split(name)
	_, err := p.do(ctx, "delete", func() (any, error) {
		return p.client.Secrets().Delete(sdk.DeleteSecretOptions{SecretKey: key, ProjectID: p.opts.Project,
			Environment: p.opts.Environment, SecretPath: folder, Type: "shared"})
	})
	p.mu.Lock()
	delete(p.latest, name)
	for k := range p.pinned {
		if strings.HasPrefix(k, name+"\n") {
			delete(p.pinned, k)
		}
	}
	p.mu.Unlock()
	if err != nil && status(err) != 404 {
		return p.wrap(err, name)
	}
	return nil
}

func (p *Provider) List(ctx context.Context, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res, err := p.do(ctx, "list", func() (any, error) {
		return p.client.Secrets().ListSecrets(sdk.ListSecretsOptions{ProjectID: p.opts.Project, Environment: p.opts.Environment,
			SecretPath: p.opts.Path, Recursive: true, SkipUniqueValidation: true})
	})
	if err != nil {
		return nil, p.wrap(err, "list")
	}
	var out []string
	for _, s := range res.(sdk.ListSecretsResult).Secrets {
		folder := s.SecretPath
		if folder == "" {
			folder = p.opts.Path
		}
		name, ok := p.join(path.Clean(folder), s.SecretKey)
		if ok && strings.HasPrefix(name, prefix) && secrets.ValidateName(name) == nil {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Invalidate drops the cached newest versions of the names in folder (an
// Infisical secret path) and below, and re-reads them in the background,
// so the next Get sees what changed. It returns how many were dropped.
func (p *Provider) Invalidate(folder string) int {
	folder = path.Clean("/" + folder)
	p.mu.Lock()
	var names []string
	for name := range p.latest {
		f, _ := p.split(name)
		if f == folder || strings.HasPrefix(f, strings.TrimSuffix(folder, "/")+"/") {
			names = append(names, name)
			delete(p.latest, name)
		}
	}
	p.mu.Unlock()
	if len(names) > 0 {
		go p.reread(names)
	}
	return len(names)
}

// Covers says whether a change in Infisical at (project, environment,
// folder) can touch this provider's secrets.
func (p *Provider) Covers(project, environment, folder string) bool {
	if project != p.opts.Project || environment != p.opts.Environment {
		return false
	}
	folder = path.Clean("/" + folder)
	return under(folder, p.opts.Path) || under(p.opts.Path, folder)
}

func under(p, base string) bool {
	return p == base || base == "/" || strings.HasPrefix(p, strings.TrimSuffix(base, "/")+"/")
}

func (p *Provider) reread(names []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*p.opts.CallTimeout)
	defer cancel()
	for _, n := range names {
		_, _ = p.Get(ctx, n)
	}
}

// Sync re-reads every cached newest version, the safety net behind the
// webhooks. It returns the first error.
func (p *Provider) Sync(ctx context.Context) error {
	p.mu.Lock()
	names := make([]string, 0, len(p.latest))
	for n := range p.latest {
		names = append(names, n)
	}
	p.mu.Unlock()
	var first error
	for _, n := range names {
		sec, err := p.retrieve(ctx, n, 0)
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		p.mu.Lock()
		p.latest[n] = cached{sec: sec, fetched: p.now()}
		p.pinned[n+"\n"+sec.Version] = cached{sec: sec, fetched: p.now()}
		p.mu.Unlock()
	}
	return first
}

// probeAfter is how long Health trusts the last call's outcome.
const probeAfter = 2 * time.Second

// once is one attempt through the breaker, recorded for Health.
func (p *Provider) once(ctx context.Context, op string, fn func() (any, error)) (any, error) {
	res, err := p.cb.Execute(func() (any, error) { return p.call(ctx, fn) })
	p.m.call(op, err)
	p.mu.Lock()
	p.lastCall = p.now()
	if transient(err) && !errors.Is(err, context.Canceled) {
		p.degraded = err
	} else {
		p.degraded = nil
	}
	p.mu.Unlock()
	return res, err
}

// do runs one SDK call with the deadline, the breaker and the retries; a
// 401 gets one fresh login first.
func (p *Provider) do(ctx context.Context, op string, fn func() (any, error)) (any, error) {
	relogged := false
	for attempt := 0; ; attempt++ {
		res, err := p.once(ctx, op, fn)
		if err == nil {
			return res, nil
		}
		if status(err) == 401 && op != "login" && !relogged {
			relogged = true
			if lerr := p.login(ctx); lerr != nil {
				return nil, lerr
			}
			continue
		}
		if !transient(err) || errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) ||
			attempt >= p.opts.Retries || ctx.Err() != nil {
			return nil, err
		}
		// Full jitter: instances that failed together do not retry together.
		backoff := min(p.opts.RetryBase<<attempt, p.opts.RetryMax)
		wait := time.Duration(rand.Int64N(int64(backoff)) + 1)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
	}
}

// errCallTimeout: the call did not answer within CallTimeout.
var errCallTimeout = errors.New("infisical: call timed out")

// call runs fn under ctx and CallTimeout. The SDK takes no context: on the
// deadline the call is abandoned and its goroutine ends with the exchange.
func (p *Provider) call(ctx context.Context, fn func() (any, error)) (any, error) {
	tctx, cancel := context.WithTimeout(ctx, p.opts.CallTimeout)
	defer cancel()
	select {
	case p.sem <- struct{}{}:
	case <-tctx.Done():
		return nil, p.timeout(ctx)
	}
	type result struct {
		v   any
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() { <-p.sem }()
		v, err := fn()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-tctx.Done():
		return nil, p.timeout(ctx)
	}
}

// timeout is the caller's own error when its context ended, and
// errCallTimeout when only the call's deadline passed.
func (p *Provider) timeout(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return errCallTimeout
}

// status is the HTTP status of an SDK API error, 0 otherwise.
func status(err error) int {
	var ae *sdkerrors.APIError
	if errors.As(err, &ae) {
		return ae.StatusCode
	}
	return 0
}

// transient says whether err may pass with time: no answer, a timeout, a
// rate limit, a server error, or the breaker itself.
func transient(err error) bool {
	if err == nil {
		return false
	}
	if s := status(err); s != 0 {
		return s == 429 || s >= 500
	}
	return true // transport errors, timeouts, an open breaker
}

// wrap maps an SDK failure onto the port's sentinels. The SDK's own text
// (URLs with query strings, server messages) is not passed on.
func (p *Provider) wrap(err error, what string) error {
	s := status(err)
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %s: %w", secrets.ErrUnavailable, what, err)
	case s == 404:
		return fmt.Errorf("%w: %s", secrets.ErrNotFound, what)
	case s == 401 || s == 403 || (s >= 400 && s < 500 && s != 429):
		return fmt.Errorf("%w: %s: infisical answered %d", secrets.ErrDenied, what, s)
	case s != 0:
		return fmt.Errorf("%w: %s: infisical answered %d", secrets.ErrUnavailable, what, s)
	case errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests):
		return fmt.Errorf("%w: %s: circuit breaker open", secrets.ErrUnavailable, what)
	case errors.Is(err, errCallTimeout):
		return fmt.Errorf("%w: %s: no answer within %s", secrets.ErrUnavailable, what, p.opts.CallTimeout)
	default:
		var re *sdkerrors.RequestError
		if errors.As(err, &re) {
			return fmt.Errorf("%w: %s: no answer from infisical", secrets.ErrUnavailable, what)
		}
		return fmt.Errorf("%w: %s: %v", secrets.ErrUnavailable, what, err)
	}
}
