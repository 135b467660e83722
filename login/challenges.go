package login

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/redis/go-redis/v9"
)

// ChallengeLifetime is how long a ceremony may take.
const ChallengeLifetime = 5 * time.Minute

// maxCeremonies bounds the in-process store, so a flood of begun
// ceremonies cannot grow it without limit; the oldest are dropped first.
const maxCeremonies = 100_000

// ceremony is one begun WebAuthn or upstream ceremony.
type ceremony struct {
	Kind      string               `json:"kind"` // "register", "sign_in", "step_up", "oidc"
	Data      webauthn.SessionData `json:"data"`
	Subject   string               `json:"subject,omitempty"`    // register, step_up
	Enrolment string               `json:"enrolment,omitempty"`  // register with a link: its code
	SessionID string               `json:"session_id,omitempty"` // step_up, and register from a session
	// oidc: the browser flow's provider, state, nonce and PKCE verifier.
	Provider string    `json:"provider,omitempty"`
	State    string    `json:"state,omitempty"`
	Nonce    string    `json:"nonce,omitempty"`
	Verifier string    `json:"verifier,omitempty"`
	Expires  time.Time `json:"expires"`
}

// ceremonyBackend keeps encoded ceremonies under a key for one take.
type ceremonyBackend interface {
	put(ctx context.Context, key string, rec []byte, ttl time.Duration) error
	// take returns and deletes the record atomically.
	take(ctx context.Context, key string) ([]byte, bool, error)
}

// ErrCeremonyStore: the shared ceremony store (Redis) did not answer; the
// ceremony is refused rather than run without its single-use check.
var ErrCeremonyStore = errors.New("login: ceremony store unavailable")

// Challenges keeps begun ceremonies, each under the SHA-256 of its cookie
// value, for one take only: in process (NewChallenges; several instances
// then need sticky sessions for a ceremony's 5 minutes) or in Redis
// (NewRedisChallenges), shared by every instance.
type Challenges struct {
	now     func() time.Time
	backend ceremonyBackend
}

// NewChallenges builds the in-process store with the service clock.
func NewChallenges(now func() time.Time) *Challenges {
	if now == nil {
		now = time.Now
	}
	return &Challenges{now: now, backend: &memCeremonies{now: now, byKey: map[string]memCeremony{}}}
}

// NewRedisChallenges keeps ceremonies in Redis under prefix, with SET EX
// and GETDEL, so a ceremony begun on one instance finishes on any.
func NewRedisChallenges(rdb redis.UniversalClient, prefix string, now func() time.Time) *Challenges {
	if now == nil {
		now = time.Now
	}
	return &Challenges{now: now, backend: redisCeremonies{rdb: rdb, prefix: prefix}}
}

func keyOf(raw string) string {
	k := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(k[:])
}

// put stores c and returns the cookie value that takes it back.
func (s *Challenges) put(ctx context.Context, c ceremony) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	raw := base64.RawURLEncoding.EncodeToString(b)
	c.Expires = s.now().Add(ChallengeLifetime)
	rec, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	if err := s.backend.put(ctx, keyOf(raw), rec, ChallengeLifetime); err != nil {
		return "", fmt.Errorf("%w: %w", ErrCeremonyStore, err)
	}
	return raw, nil
}

// take removes and returns the ceremony of cookie value raw, if it exists,
// is of kind and has not expired. A second take of the same value fails:
// a challenge is single use whatever the outcome of the first.
func (s *Challenges) take(ctx context.Context, raw, kind string) (ceremony, bool, error) {
	if raw == "" || len(raw) > 64 {
		return ceremony{}, false, nil
	}
	rec, ok, err := s.backend.take(ctx, keyOf(raw))
	if err != nil {
		return ceremony{}, false, fmt.Errorf("%w: %w", ErrCeremonyStore, err)
	}
	if !ok {
		return ceremony{}, false, nil
	}
	var c ceremony
	if err := json.Unmarshal(rec, &c); err != nil || c.Kind != kind || !s.now().Before(c.Expires) {
		return ceremony{}, false, nil
	}
	return c, true, nil
}

type memCeremony struct {
	rec     []byte
	expires time.Time
}

type memCeremonies struct {
	mu    sync.Mutex
	now   func() time.Time
	byKey map[string]memCeremony
	order []string
}

func (m *memCeremonies) put(_ context.Context, key string, rec []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.byKey[key] = memCeremony{rec: rec, expires: m.now().Add(ttl)}
	m.order = append(m.order, key)
	for len(m.order) > 0 {
		c, ok := m.byKey[m.order[0]]
		if ok && len(m.byKey) <= maxCeremonies && m.now().Before(c.expires) {
			break
		}
		delete(m.byKey, m.order[0])
		m.order = m.order[1:]
	}
	return nil
}

func (m *memCeremonies) take(_ context.Context, key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.byKey[key]
	delete(m.byKey, key)
	return c.rec, ok, nil
}

type redisCeremonies struct {
	rdb    redis.UniversalClient
	prefix string
}

func (r redisCeremonies) put(ctx context.Context, key string, rec []byte, ttl time.Duration) error {
	return r.rdb.Set(ctx, r.prefix+key, rec, ttl).Err()
}

func (r redisCeremonies) take(ctx context.Context, key string) ([]byte, bool, error) {
	b, err := r.rdb.GetDel(ctx, r.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}
