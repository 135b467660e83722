package commands

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/domain/token"
)

// TokenRules is what every token use case shares: the issuer, the lifetime
// policy, the clock and the randomness. It holds no dependency.
type TokenRules struct {
	issuer string
	policy token.Policy
	now    func() time.Time
	rand   io.Reader
}

// NewTokenRules returns the rules of issuer. policy nil means
// token.DefaultPolicy(); now nil means time.Now; rnd nil means crypto/rand.
func NewTokenRules(issuer string, policy *token.Policy, now func() time.Time, rnd io.Reader) (TokenRules, error) {
	if issuer == "" {
		return TokenRules{}, fmt.Errorf("tokens: issuer is required")
	}
	r := TokenRules{issuer: issuer, policy: token.DefaultPolicy(), now: now, rand: rnd}
	if policy != nil {
		r.policy = *policy
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.rand == nil {
		r.rand = rand.Reader
	}
	return r, nil
}

// Issuer is the issuer URL.
func (r TokenRules) Issuer() string { return r.issuer }

// Now is the service clock, in UTC.
func (r TokenRules) Now() time.Time { return r.now().UTC() }

// Class is the policy's class n.
func (r TokenRules) Class(n token.ClassName) token.Class { return r.policy.Class(n) }

// accessUntil is when an access token minted now expires at the latest:
// how long a revocation must be remembered.
func (r TokenRules) accessUntil(now time.Time) time.Time {
	return now.Add(r.policy.Class(token.Access).Lifetime)
}

// accessAudience is the audience of user access tokens: the class audience
// plus the issuer, which authledger's own /v1 APIs require (DESIGN.md §5).
func (r TokenRules) accessAudience() []string {
	aud := append([]string(nil), r.policy.Class(token.Access).Audience...)
	return append(aud, r.issuer)
}

func (r TokenRules) randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r.rand, b); err != nil {
		return nil, fmt.Errorf("tokens: randomness: %w", err)
	}
	return b, nil
}

func (r TokenRules) newTokenID() (refreshtoken.TokenID, error) {
	var id refreshtoken.TokenID
	b, err := r.randomBytes(len(id))
	copy(id[:], b)
	return id, err
}

func (r TokenRules) newFamilyID() (refreshtoken.FamilyID, error) {
	var id refreshtoken.FamilyID
	b, err := r.randomBytes(len(id))
	copy(id[:], b)
	return id, err
}

// sessionTokenBytes is the session token's entropy (DESIGN.md §4: 256 bits).
const sessionTokenBytes = 32

func (r TokenRules) newSessionToken() (string, error) {
	b, err := r.randomBytes(sessionTokenBytes)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// sessionTTL is how long the store may keep a record last touched at now:
// the idle timeout, cut at the absolute expiry.
func (r TokenRules) sessionTTL(rec session.Record, now time.Time) time.Duration {
	c := r.policy.Class(token.Session)
	ttl := c.IdleTimeout
	if left := rec.CreatedAt.Add(c.Lifetime).Sub(now); left < ttl {
		ttl = left
	}
	if ttl < time.Second {
		ttl = time.Second
	}
	return ttl
}

// checkSessionExpiry applies the session class's idle and absolute
// timeouts to a live record.
func (r TokenRules) checkSessionExpiry(rec session.Record, now time.Time) error {
	c := r.policy.Class(token.Session)
	return session.CheckExpiry(rec.CreatedAt, rec.LastSeen, now, c.IdleTimeout, c.Lifetime)
}

// hashToken is the session store key of a session token.
func hashToken(raw string) string {
	h := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(h[:])
}

// Policy is the lifetime policy.
func (r TokenRules) Policy() token.Policy { return r.policy }
