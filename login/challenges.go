package login

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
)

// ChallengeLifetime is how long a ceremony may take.
const ChallengeLifetime = 5 * time.Minute

// maxCeremonies bounds the in-process store, so a flood of begun
// ceremonies cannot grow it without limit; the oldest are dropped first.
const maxCeremonies = 100_000

// ceremony is one begun WebAuthn ceremony.
type ceremony struct {
	kind      string // "register", "sign_in", "step_up"
	data      webauthn.SessionData
	subject   string // register, step_up
	enrolment string // register with a link: its code
	sessionID string // step_up, and register from a session
	// oidc: the browser flow's provider, state, nonce and PKCE verifier.
	provider, state, nonce, verifier string
	expires                          time.Time
}

// Challenges keeps begun ceremonies in process, each under the SHA-256 of
// its cookie value, for one Take only. Several instances behind a load
// balancer need sticky sessions for the five minutes of a ceremony (see
// docs/login.md); a shared store is a later step.
type Challenges struct {
	mu    sync.Mutex
	now   func() time.Time
	byKey map[[32]byte]ceremony
	order [][32]byte
}

// NewChallenges builds the store with the service clock.
func NewChallenges(now func() time.Time) *Challenges {
	if now == nil {
		now = time.Now
	}
	return &Challenges{now: now, byKey: map[[32]byte]ceremony{}}
}

// put stores c and returns the cookie value that takes it back.
func (s *Challenges) put(c ceremony) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	raw := base64.RawURLEncoding.EncodeToString(b)
	k := sha256.Sum256([]byte(raw))
	s.mu.Lock()
	defer s.mu.Unlock()
	c.expires = s.now().Add(ChallengeLifetime)
	s.byKey[k] = c
	s.order = append(s.order, k)
	for len(s.byKey) > maxCeremonies || (len(s.order) > 0 && s.expired(s.order[0])) {
		delete(s.byKey, s.order[0])
		s.order = s.order[1:]
	}
	return raw, nil
}

func (s *Challenges) expired(k [32]byte) bool {
	c, ok := s.byKey[k]
	return !ok || !s.now().Before(c.expires)
}

// take removes and returns the ceremony of cookie value raw, if it exists,
// is of kind and has not expired. A second take of the same value fails:
// a challenge is single use whatever the outcome of the first.
func (s *Challenges) take(raw, kind string) (ceremony, bool) {
	if raw == "" || len(raw) > 64 {
		return ceremony{}, false
	}
	k := sha256.Sum256([]byte(raw))
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.byKey[k]
	delete(s.byKey, k)
	if !ok || c.kind != kind || !s.now().Before(c.expires) {
		return ceremony{}, false
	}
	return c, true
}
