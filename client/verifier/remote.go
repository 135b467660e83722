package verifier

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"
)

// RemoteConfig configures a Remote JWKS.
type RemoteConfig struct {
	// URL is the issuer's jwks_uri.
	URL string
	// Client is the HTTP client; nil means one with a 5 s timeout.
	Client *http.Client
	// DefaultMaxAge applies when the response has no usable Cache-Control.
	// Default 5 min.
	DefaultMaxAge time.Duration
	// MinMaxAge and MaxMaxAge clamp the server's max-age, so a hostile or
	// broken header can neither disable caching nor pin keys for days.
	// Defaults 30 s and 24 h.
	MinMaxAge, MaxMaxAge time.Duration
	// UnknownKIDEvery is the rate of refetches an unknown kid may trigger,
	// so a flood of forged kids cannot turn into a flood of fetches.
	// Default one per 10 s (burst 1).
	UnknownKIDEvery time.Duration
	// MaxBodyBytes bounds the JWKS response. Default 256 KiB.
	MaxBodyBytes int64
	// MaxStale is how long past its max-age a cached set may still be
	// served while every refresh fails. Past it, Key fails closed with
	// ErrJWKSStale: an issuer that stays unreachable must not keep a key it
	// has since revoked trusted forever. Default 1 h, so a key revoked at
	// the issuer stops being trusted at most max-age + 1 h later even when
	// the JWKS endpoint is down. A successful fetch or a 304 resets it.
	MaxStale time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Remote is a KeySource over an issuer's JWKS endpoint. Keys are served
// from memory; a stale set is refreshed in the background while the cached
// keys keep working (for at most MaxStale past max-age, then every key
// fails closed with ErrJWKSStale until a refresh succeeds), and an unknown kid triggers at most one rate-limited
// refetch (singleflight) before it fails closed with ErrUnknownKey.
type Remote struct {
	cfg     RemoteConfig
	state   atomic.Pointer[remoteState]
	sf      singleflight.Group
	limiter *rate.Limiter
	fetches atomic.Int64
	nextBG  atomic.Int64 // unix nanos before which no background refresh starts
	mu      sync.Mutex   // serializes state updates
}

type remoteState struct {
	set     *KeySet
	etag    string
	expires time.Time
}

var _ KeySource = (*Remote)(nil)

// NewRemote checks the configuration; it does not fetch.
func NewRemote(cfg RemoteConfig) (*Remote, error) {
	if cfg.URL == "" || !(strings.HasPrefix(cfg.URL, "https://") || strings.HasPrefix(cfg.URL, "http://")) {
		return nil, errors.New("verifier: RemoteConfig.URL must be an http(s) URL")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 5 * time.Second}
	}
	if cfg.DefaultMaxAge <= 0 {
		cfg.DefaultMaxAge = 5 * time.Minute
	}
	if cfg.MinMaxAge <= 0 {
		cfg.MinMaxAge = 30 * time.Second
	}
	if cfg.MaxMaxAge <= 0 {
		cfg.MaxMaxAge = 24 * time.Hour
	}
	if cfg.UnknownKIDEvery <= 0 {
		cfg.UnknownKIDEvery = 10 * time.Second
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 256 << 10
	}
	if cfg.MaxStale <= 0 {
		cfg.MaxStale = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Remote{cfg: cfg, limiter: rate.NewLimiter(rate.Every(cfg.UnknownKIDEvery), 1)}, nil
}

// Fetches counts HTTP requests made (for tests and metrics).
func (r *Remote) Fetches() int64 { return r.fetches.Load() }

// Key implements KeySource.
func (r *Remote) Key(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	st := r.state.Load()
	if st == nil {
		// Nothing cached yet: this one fetch is unavoidable.
		if err := r.refresh(ctx); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnknownKey, err)
		}
		st = r.state.Load()
	} else if now := r.cfg.Now(); !now.Before(st.expires.Add(r.cfg.MaxStale)) {
		// Too stale to vouch for any key: only a successful refresh helps.
		// The refresh is gated like the background one, so while the
		// endpoint is down verifications fail fast instead of each one
		// waiting on a fetch.
		if !r.claimRefreshSlot(now) {
			return nil, ErrJWKSStale
		}
		if err := r.refresh(ctx); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrJWKSStale, err)
		}
		if st = r.state.Load(); !r.cfg.Now().Before(st.expires.Add(r.cfg.MaxStale)) {
			return nil, ErrJWKSStale
		}
	} else if !now.Before(st.expires) {
		// Stale: keep serving the cached keys and refresh in the background,
		// at most once per MinMaxAge whatever the outcome, so an endpoint
		// that is down is not hammered by every verification.
		if r.claimRefreshSlot(now) {
			go func() { _ = r.refresh(context.WithoutCancel(ctx)) }()
		}
	}
	if k, err := st.set.Key(ctx, kid); err == nil {
		return k, nil
	}
	if !r.limiter.AllowN(r.cfg.Now(), 1) {
		return nil, ErrUnknownKey
	}
	if err := r.refresh(ctx); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnknownKey, err)
	}
	return r.state.Load().set.Key(ctx, kid)
}

// claimRefreshSlot reports whether this caller may start a refresh of a
// stale set: at most one per MinMaxAge whatever the outcome.
func (r *Remote) claimRefreshSlot(now time.Time) bool {
	next := r.nextBG.Load()
	return now.UnixNano() >= next && r.nextBG.CompareAndSwap(next, now.Add(r.cfg.MinMaxAge).UnixNano())
}

// Refresh fetches the JWKS now (e.g. at start-up, to fail fast).
func (r *Remote) Refresh(ctx context.Context) error { return r.refresh(ctx) }

func (r *Remote) refresh(ctx context.Context) error {
	ch := r.sf.DoChan("jwks", func() (any, error) {
		return nil, r.fetch(context.WithoutCancel(ctx))
	})
	select {
	case res := <-ch:
		return res.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *Remote) fetch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.cfg.URL, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrJWKSUnavailable, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	old := r.state.Load()
	if old != nil && old.etag != "" {
		req.Header.Set("If-None-Match", old.etag)
	}
	r.fetches.Add(1)
	resp, err := r.cfg.Client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrJWKSUnavailable, err)
	}
	defer resp.Body.Close()
	maxAge := r.maxAge(resp.Header.Get("Cache-Control"))
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case resp.StatusCode == http.StatusNotModified && old != nil:
		r.state.Store(&remoteState{set: old.set, etag: old.etag, expires: now.Add(maxAge)})
		return nil
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("%w: HTTP %d", ErrJWKSUnavailable, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.cfg.MaxBodyBytes+1))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrJWKSUnavailable, err)
	}
	if int64(len(body)) > r.cfg.MaxBodyBytes {
		return fmt.Errorf("%w: body larger than %d bytes", ErrInvalidJWKS, r.cfg.MaxBodyBytes)
	}
	set, err := ParseJWKS(body)
	if err != nil {
		// Keep the old set: a broken publication must not lock every
		// verifier out, and must not replace known keys either.
		return err
	}
	r.state.Store(&remoteState{set: set, etag: resp.Header.Get("ETag"), expires: now.Add(maxAge)})
	return nil
}

// maxAge reads max-age from Cache-Control (RFC 9111 §5.2.2.1) and clamps it.
func (r *Remote) maxAge(cc string) time.Duration {
	d := r.cfg.DefaultMaxAge
	for _, part := range strings.Split(cc, ",") {
		part = strings.TrimSpace(strings.ToLower(part))
		switch {
		case part == "no-store" || part == "no-cache":
			d = 0
		case strings.HasPrefix(part, "max-age="):
			if n, err := strconv.Atoi(strings.Trim(part[len("max-age="):], `"`)); err == nil && n >= 0 {
				d = time.Duration(n) * time.Second
			}
		}
	}
	return min(max(d, r.cfg.MinMaxAge), r.cfg.MaxMaxAge)
}
