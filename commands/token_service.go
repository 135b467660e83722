package commands

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"authledger/domain/refreshtoken"
	"authledger/domain/session"
	"authledger/domain/token"
	"authledger/eventstore"
)

// SessionStore is the live-session port (sessionstore implements it
// for Redis and in process). See that package for the contract.
type SessionStore interface {
	Create(ctx context.Context, rec session.Record, ttl time.Duration) error
	Lookup(ctx context.Context, tokenHash string) (session.Record, error)
	Get(ctx context.Context, id string) (session.Record, error)
	Save(ctx context.Context, rec session.Record, ttl time.Duration) error
	Touch(ctx context.Context, rec session.Record, lastSeen time.Time, ttl time.Duration) error
	Delete(ctx context.Context, id string) error
	ListBySubject(ctx context.Context, subject string) ([]session.Record, error)
	Ping(ctx context.Context) error
}

// AccessClaims is what a verified access or M2M JWT says, for revocation and
// introspection.
type AccessClaims struct {
	Issuer    string
	Subject   string
	Audience  []string
	ClientID  string
	Scope     string
	JTI       string
	SessionID string
	ACR       string
	IssuedAt  time.Time
	NotBefore time.Time
	ExpiresAt time.Time
}

// AccessVerifier checks an access JWT's signature (EdDSA, a key of this
// issuer that is not revoked), typ and issuer. It does not apply expiry or
// revocation: revocation must see expired tokens, and introspection applies
// both itself with the service clock.
type AccessVerifier interface {
	VerifySignature(ctx context.Context, raw string) (AccessClaims, error)
}

// RevocationChecker answers whether any of a token's identifiers is revoked
// now (readmodels/revocations implements it, with the same shape as
// client/verifier's Revocation hook).
type RevocationChecker interface {
	IsRevoked(jti, sid, family string) bool
}

// RevocationPublisher hurries a revocation to every instance (Redis
// pub/sub) once it is in the ledger. kind is "jti", "sid" or "family".
// It is best effort: the ledger feed delivers the same entry anyway.
type RevocationPublisher interface {
	PublishRevocation(ctx context.Context, kind, id string, until time.Time) error
}

// TokenServiceConfig configures sessions, refresh families, revocation and
// introspection.
type TokenServiceConfig struct {
	// Store is the ledger (required).
	Store eventstore.Store
	// Signer issues access JWTs (required).
	Signer Signer
	// Codec seals and opens refresh tokens (required).
	Codec *refreshtoken.Codec
	// ReloadCodec, if set, is called when a token names a sealing key the
	// codec lacks (another instance rotated it, or generated the first key
	// at the same moment); at most once per codecReloadEvery.
	ReloadCodec func(ctx context.Context) (*refreshtoken.Codec, error)
	// Sessions is the session store (required for the session commands).
	Sessions SessionStore
	// Verifier checks access JWTs for revocation and introspection.
	Verifier AccessVerifier
	// Revocations is consulted by introspection.
	Revocations RevocationChecker
	// Publisher, if set, announces revocations to other instances.
	Publisher RevocationPublisher
	// Issuer is added to the audience of session access tokens, so
	// authledger's own /v1 APIs accept them (DESIGN.md §5).
	Issuer string
	// Policy bounds every lifetime; nil means token.DefaultPolicy().
	Policy *token.Policy
	// Grace is the refresh retry window: 0 (default) to 30 s.
	Grace time.Duration
	// Now is the clock (nil: time.Now); Rand the randomness (nil: crypto/rand).
	Now  func() time.Time
	Rand io.Reader
}

// Validate joins every problem.
func (c TokenServiceConfig) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("tokens: Store is required"))
	}
	if c.Signer == nil {
		errs = append(errs, errors.New("tokens: Signer is required"))
	}
	if c.Codec == nil {
		errs = append(errs, errors.New("tokens: Codec is required"))
	}
	if c.Issuer == "" {
		errs = append(errs, errors.New("tokens: Issuer is required"))
	}
	if c.Grace < 0 || c.Grace > refreshtoken.MaxGrace {
		errs = append(errs, refreshtoken.ErrBadGrace)
	}
	return errors.Join(errs...)
}

// TokenService holds the session and refresh-family use cases; each lives
// in its own file (start_session.go, refresh_grant.go, …).
type TokenService struct {
	cfg      TokenServiceConfig
	families familyCache
	codecP   atomic.Pointer[refreshtoken.Codec]
	reloadMu sync.Mutex
	reloaded time.Time
	policy   token.Policy
	now      func() time.Time
	rand     io.Reader
}

// NewTokenService checks cfg.
func NewTokenService(cfg TokenServiceConfig) (*TokenService, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &TokenService{cfg: cfg, now: cfg.Now, rand: cfg.Rand, policy: token.DefaultPolicy()}
	if cfg.Policy != nil {
		s.policy = *cfg.Policy
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	s.codecP.Store(cfg.Codec)
	return s, nil
}

// codecReloadEvery bounds reloads, so a flood of tokens naming unknown
// key ids cannot hammer the secret provider.
const codecReloadEvery = 10 * time.Second

func (s *TokenService) codec() *refreshtoken.Codec { return s.codecP.Load() }

// openRefresh opens a refresh token, reloading the sealing keys once when
// the token names a key this instance has not loaded yet.
func (s *TokenService) openRefresh(ctx context.Context, raw string) (refreshtoken.Claims, error) {
	c := s.codec()
	cl, err := c.Open(raw)
	if err == nil || s.cfg.ReloadCodec == nil {
		return cl, err
	}
	kid, ok := refreshtoken.KeyIDOf(raw)
	if !ok || c.Has(kid) {
		return cl, err
	}
	s.reloadMu.Lock()
	if s.codec() == c && time.Since(s.reloaded) >= codecReloadEvery {
		s.reloaded = time.Now()
		if fresh, rerr := s.cfg.ReloadCodec(ctx); rerr == nil {
			s.codecP.Store(fresh)
		}
	}
	s.reloadMu.Unlock()
	return s.codec().Open(raw)
}

// ErrSessionsUnavailable: the session commands were built without a
// session store.
var ErrSessionsUnavailable = fmt.Errorf("%w: not configured", session.ErrUnavailable)

func (s *TokenService) clockNow() time.Time { return s.now().UTC() }

func (s *TokenService) randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return nil, fmt.Errorf("tokens: randomness: %w", err)
	}
	return b, nil
}

func (s *TokenService) newTokenID() (refreshtoken.TokenID, error) {
	var id refreshtoken.TokenID
	b, err := s.randomBytes(len(id))
	copy(id[:], b)
	return id, err
}

// hashToken is the session store key of a session token.
func hashToken(raw string) string {
	h := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(h[:])
}

func (s *TokenService) loadFamily(ctx context.Context, id refreshtoken.FamilyID) (*refreshtoken.Family, error) {
	es, err := readEvents(ctx, s.cfg.Store, id.Stream(), refreshtoken.Decode)
	if err != nil {
		return nil, err
	}
	f := refreshtoken.Rebuild(id, es)
	if f.Version() != uint64(len(es)) {
		return nil, fmt.Errorf("load family %s: version mismatch", id)
	}
	return f, nil
}

func (s *TokenService) loadSession(ctx context.Context, id string) (*session.Session, error) {
	es, err := readEvents(ctx, s.cfg.Store, session.Stream(id), session.Decode)
	if err != nil {
		return nil, err
	}
	return session.Rebuild(es), nil
}

// maxConflictRetries bounds reloading after a lost optimistic-concurrency
// race. Three is enough for a refresh: a loser reloads and then sees the
// token spent (reuse or grace) or the family revoked, and stops.
const maxConflictRetries = 4

// updateFamily lets fn decide on the family and appends what it decided at
// the family's version, reloading on a conflict.
//
// Fast path: the family as this instance last committed it is cached, so a
// refresh reads nothing. The cache is only trusted for decisions that
// append: the append's expected version proves the cached state was the
// ledger's. Any other decision (an error, a grace replay, nothing to do) and
// any conflict is decided again on a fresh load, because a stale cache could
// wrongly refuse a token another instance minted.
func (s *TokenService) updateFamily(ctx context.Context, id refreshtoken.FamilyID, meta Metadata, fn func(f *refreshtoken.Family) error) error {
	if f := s.families.get(id); f != nil {
		if err := fn(f); err == nil && len(f.Pending()) > 0 {
			err := s.appendFamily(ctx, f, meta)
			if !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
				return err
			}
		}
		s.families.drop(id)
	}
	for attempt := 0; ; attempt++ {
		f, err := s.loadFamily(ctx, id)
		if err != nil {
			return err
		}
		if err := fn(f); err != nil {
			return err
		}
		if len(f.Pending()) == 0 {
			if f.Exists() {
				s.families.put(f)
			}
			return nil
		}
		err = s.appendFamily(ctx, f, meta)
		if errors.Is(err, eventstore.ErrWrongExpectedVersion) && attempt+1 < maxConflictRetries {
			continue
		}
		return err
	}
}

func (s *TokenService) appendFamily(ctx context.Context, f *refreshtoken.Family, meta Metadata) error {
	evs, err := encodeTyped(f.Pending(), meta)
	if err != nil {
		return err
	}
	appends := []eventstore.StreamAppend{{Stream: f.ID().Stream(), Expected: eventstore.Exact(f.Version()), Events: evs}}
	ended, err := s.endFamilySession(ctx, f, meta)
	if err != nil {
		return err
	}
	if ended != nil {
		appends = append(appends, *ended)
	}
	if _, err := s.cfg.Store.Append(ctx, appends...); err != nil {
		return err
	}
	s.families.put(f) // put keeps the committed state
	for _, e := range f.Pending() {
		if r, ok := e.(refreshtoken.Revoked); ok {
			s.publish(ctx, "family", r.Family.String(), r.AccessUntil)
			if ended != nil {
				s.publish(ctx, "sid", r.SessionID, r.AccessUntil)
				if s.cfg.Sessions != nil {
					// Best effort: with the store down the cookie still
					// dies, because ResolveSession consults the sid the
					// ledger event put in the revocation set.
					_ = s.cfg.Sessions.Delete(context.WithoutCancel(ctx), r.SessionID)
				}
			}
		}
	}
	return nil
}

// endFamilySession decides session.Ended for the session a pending family
// revocation belongs to, so the revocation and the session's end are one
// append: after reuse (or an RFC 7009 revocation) of a session's refresh
// token the cookie and every token bound to the session (sid) die too, and
// every read model and auditor sees why. A revocation caused by the session
// ending, a family without a session, or a session already ended decides
// nothing.
func (s *TokenService) endFamilySession(ctx context.Context, f *refreshtoken.Family, meta Metadata) (*eventstore.StreamAppend, error) {
	var rev *refreshtoken.Revoked
	for _, e := range f.Pending() {
		if r, ok := e.(refreshtoken.Revoked); ok {
			rev = &r
		}
	}
	if rev == nil || rev.SessionID == "" || rev.Reason == "session_ended" {
		return nil, nil
	}
	sess, err := s.loadSession(ctx, rev.SessionID)
	if err != nil {
		return nil, err
	}
	if !sess.Exists() {
		return nil, nil
	}
	ended, err := sess.End(sessionEndReason(rev.Reason), meta.Actor, rev.At, rev.AccessUntil)
	if err != nil || !ended {
		return nil, err
	}
	evs, err := encodeTyped(sess.Pending(), meta)
	if err != nil {
		return nil, err
	}
	return &eventstore.StreamAppend{Stream: session.Stream(rev.SessionID), Expected: eventstore.Exact(sess.Version()), Events: evs}, nil
}

// sessionEndReason is the session.Ended reason for a family revocation.
func sessionEndReason(familyReason string) string {
	if familyReason == "reuse" {
		return "refresh_reuse"
	}
	return "refresh_revoked"
}

// familyCache holds families as this instance last saw them committed.
// Entries are immutable; readers get clones.
type familyCache struct {
	mu sync.Mutex
	m  map[refreshtoken.FamilyID]*refreshtoken.Family
}

// familyCacheSize bounds the cache; a miss only costs a stream read.
const familyCacheSize = 1 << 16

func (c *familyCache) get(id refreshtoken.FamilyID) *refreshtoken.Family {
	c.mu.Lock()
	f := c.m[id]
	c.mu.Unlock()
	if f == nil {
		return nil
	}
	return f.Clone()
}

// peek returns the cached family itself, for reading only.
func (c *familyCache) peek(id refreshtoken.FamilyID) *refreshtoken.Family {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[id]
}

func (c *familyCache) put(f *refreshtoken.Family) {
	f = f.Committed()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[refreshtoken.FamilyID]*refreshtoken.Family{}
	}
	if old, ok := c.m[f.ID()]; ok && old.Version() > f.Version() {
		return // never move a cached family backwards
	}
	if len(c.m) >= familyCacheSize {
		// Evict an arbitrary eighth: cheap, and any entry is re-read on demand.
		n := familyCacheSize / 8
		for k := range c.m {
			delete(c.m, k)
			if n--; n == 0 {
				break
			}
		}
	}
	c.m[f.ID()] = f
}

func (c *familyCache) drop(id refreshtoken.FamilyID) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}

// accessAudience is the audience of user access tokens: the class audience
// plus the issuer, which authledger's own /v1 APIs require.
func (s *TokenService) accessAudience() []string {
	aud := append([]string(nil), s.policy.Class(token.Access).Audience...)
	return append(aud, s.cfg.Issuer)
}

func (s *TokenService) publish(ctx context.Context, kind, id string, until time.Time) {
	if s.cfg.Publisher != nil {
		// Best effort by design: the ledger feed is the guarantee.
		_ = s.cfg.Publisher.PublishRevocation(context.WithoutCancel(ctx), kind, id, until)
	}
}

// AccessVerifierFunc adapts a function (e.g. over client/verifier) to
// AccessVerifier.
type AccessVerifierFunc func(ctx context.Context, raw string) (AccessClaims, error)

// VerifySignature implements AccessVerifier.
func (f AccessVerifierFunc) VerifySignature(ctx context.Context, raw string) (AccessClaims, error) {
	return f(ctx, raw)
}
