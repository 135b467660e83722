package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// FollowerConfig configures a Follower of authledger's revocation feed.
type FollowerConfig struct {
	// URL is the feed: the issuer's base URL followed by /v1/revocations.
	URL string
	// Client is the HTTP client. nil means one whose requests end Wait +
	// 10 s after they start.
	Client *http.Client
	// Wait is the long poll asked for (the server holds at most 30 s).
	// Default 25 s.
	Wait time.Duration
	// MinBackoff and MaxBackoff bound the pause after a failed poll; it
	// doubles from MinBackoff with full jitter and resets on success. A 503
	// with Retry-After waits at least that long. Defaults 250 ms and 30 s.
	MinBackoff, MaxBackoff time.Duration
	// MaxStale is how long after its last successful poll the follower
	// still answers from what it has. Past it (the feed unreachable), and
	// before the first successful poll, IsRevoked answers true for every
	// token: fail closed, because a token revoked meanwhile would
	// otherwise be accepted until it expires. Default 5 min; a negative
	// value never fails closed after the first poll. It must exceed Wait.
	MaxStale time.Duration
	// MaxBodyBytes bounds one answer. Default 8 MiB.
	MaxBodyBytes int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnError, if set, is told of each failed poll (for logs and metrics).
	OnError func(error)
}

// Follower keeps a resource server's copy of the revocation set by
// long-polling GET /v1/revocations (docs/revocation.md) and is a
// Revocation and ClientRevocation hook for Config.Revocation, so a revoked
// token is refused within one long-poll round trip. Run drives it; lookups
// answer from memory.
type Follower struct {
	cfg    FollowerConfig
	mu     sync.RWMutex
	byKind map[string]map[string]time.Time
	cursor uint64
	lastOK time.Time
	synced bool
	ready  chan struct{}
	once   sync.Once
	polls  atomic.Int64
}

var (
	_ Revocation       = (*Follower)(nil)
	_ ClientRevocation = (*Follower)(nil)
)

// ErrFeed wraps every failed poll of the revocation feed.
var ErrFeed = errors.New("verifier: revocation feed")

// NewFollower checks the configuration; it does not poll.
func NewFollower(cfg FollowerConfig) (*Follower, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("verifier: FollowerConfig.URL must be an http(s) URL")
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 25 * time.Second
	}
	if cfg.Wait > 30*time.Second {
		cfg.Wait = 30 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 250 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		return nil, errors.New("verifier: FollowerConfig.MaxBackoff is below MinBackoff")
	}
	if cfg.MaxStale == 0 {
		cfg.MaxStale = 5 * time.Minute
	}
	if cfg.MaxStale > 0 && cfg.MaxStale <= cfg.Wait {
		return nil, errors.New("verifier: FollowerConfig.MaxStale must exceed Wait")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 8 << 20
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Wait + 10*time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Follower{cfg: cfg, byKind: map[string]map[string]time.Time{}, ready: make(chan struct{})}, nil
}

// Ready is closed after the first successful poll: until then every token
// is refused, so a resource server may hold its own readiness on it.
func (f *Follower) Ready() <-chan struct{} { return f.ready }

// Cursor is the ledger position the next poll asks after.
func (f *Follower) Cursor() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.cursor
}

// IsRevoked implements Revocation.
func (f *Follower) IsRevoked(jti, sid, family string) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	now := f.cfg.Now()
	if f.failClosed(now) {
		return true
	}
	return f.live("jti", jti, now) || f.live("sid", sid, now) || f.live("family", family, now)
}

// IsClientRevoked implements ClientRevocation.
func (f *Follower) IsClientRevoked(clientID string) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	now := f.cfg.Now()
	return f.failClosed(now) || f.live("client", clientID, now)
}

func (f *Follower) failClosed(now time.Time) bool {
	return !f.synced || (f.cfg.MaxStale > 0 && now.Sub(f.lastOK) > f.cfg.MaxStale)
}

func (f *Follower) live(kind, id string, now time.Time) bool {
	if id == "" {
		return false
	}
	until, ok := f.byKind[kind][id]
	return ok && now.Before(until)
}

// Run polls until ctx ends, pausing with backoff after failures, and
// returns ctx's error.
func (f *Follower) Run(ctx context.Context) error {
	failures := 0
	for {
		pause, err := f.poll(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			failures = 0
			continue
		}
		if f.cfg.OnError != nil {
			f.cfg.OnError(err)
		}
		failures++
		pause = max(pause, f.backoff(failures))
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// backoff is full jitter over a doubling ceiling (AWS architecture blog,
// "Exponential Backoff and Jitter"), so many resource servers restarting
// together do not poll in step.
func (f *Follower) backoff(failures int) time.Duration {
	ceiling := f.cfg.MinBackoff << min(failures-1, 20)
	if ceiling <= 0 || ceiling > f.cfg.MaxBackoff {
		ceiling = f.cfg.MaxBackoff
	}
	return f.cfg.MinBackoff/2 + rand.N(ceiling-f.cfg.MinBackoff/2+1)
}

type feedPage struct {
	Entries []struct {
		Position uint64    `json:"position"`
		Type     string    `json:"type"`
		ID       string    `json:"id"`
		Until    time.Time `json:"until"`
	} `json:"entries"`
	Cursor *uint64 `json:"cursor"`
}

// poll asks for one page and applies it. On failure it returns the
// server's Retry-After, if any.
func (f *Follower) poll(ctx context.Context) (time.Duration, error) {
	f.polls.Add(1)
	q := url.Values{"after": {strconv.FormatUint(f.Cursor(), 10)}, "wait": {strconv.FormatFloat(f.cfg.Wait.Seconds(), 'f', -1, 64)}}
	u := f.cfg.URL
	if strings.Contains(u, "?") {
		u += "&" + q.Encode()
	} else {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrFeed, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := f.cfg.Client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrFeed, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		var retry time.Duration
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			retry = min(time.Duration(s)*time.Second, f.cfg.MaxBackoff)
		}
		return retry, fmt.Errorf("%w: %s", ErrFeed, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.cfg.MaxBodyBytes+1))
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrFeed, err)
	}
	if int64(len(body)) > f.cfg.MaxBodyBytes {
		return 0, fmt.Errorf("%w: answer over %d bytes", ErrFeed, f.cfg.MaxBodyBytes)
	}
	p, err := parseFeedPage(body)
	if err != nil {
		return 0, err
	}
	f.apply(p)
	return 0, nil
}

// parseFeedPage reads one answer of the feed, untrusted input.
func parseFeedPage(body []byte) (feedPage, error) {
	var p feedPage
	if err := json.Unmarshal(body, &p); err != nil || p.Cursor == nil {
		return feedPage{}, fmt.Errorf("%w: not a feed page", ErrFeed)
	}
	return p, nil
}

func (f *Follower) apply(p feedPage) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.cfg.Now()
	for kind, ids := range f.byKind {
		for id, until := range ids {
			if !now.Before(until) {
				delete(ids, id)
			}
		}
		if len(ids) == 0 {
			delete(f.byKind, kind)
		}
	}
	for _, e := range p.Entries {
		switch e.Type {
		case "jti", "sid", "family", "client":
		default:
			continue // a kind this version does not know revokes nothing it checks
		}
		if e.ID == "" || len(e.ID) > 128 || !now.Before(e.Until) {
			continue
		}
		m := f.byKind[e.Type]
		if m == nil {
			m = map[string]time.Time{}
			f.byKind[e.Type] = m
		}
		if e.Until.After(m[e.ID]) {
			m[e.ID] = e.Until
		}
	}
	// A cursor never goes back: an instance restarted on an older ledger
	// copy must not make the follower forget it has seen further.
	f.cursor = max(f.cursor, *p.Cursor)
	f.lastOK = now
	f.synced = true
	f.once.Do(func() { close(f.ready) })
}
