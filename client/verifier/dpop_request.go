package verifier

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Request-level failures of VerifyRequest, beside the token's and the
// proof's own.
var (
	// ErrBoundTokenAsBearer: a DPoP-bound token came with the Bearer
	// scheme. Accepting it would make the binding worthless (RFC 9449
	// §7.2): whoever stole it could drop the proof.
	ErrBoundTokenAsBearer = errors.New("verifier: DPoP-bound token presented as a bearer token")
	// ErrTokenNotBound: a token without cnf.jkt came with the DPoP scheme.
	ErrTokenNotBound = errors.New("verifier: token is not DPoP-bound")
	// ErrDPoPNotAccepted: the DPoP scheme was used but this verifier has no
	// ProofChecker (Config.DPoP).
	ErrDPoPNotAccepted = errors.New("verifier: DPoP not accepted here")
	// ErrBadAuthorization: the Authorization header is neither Bearer nor
	// DPoP, or carries no token.
	ErrBadAuthorization = errors.New("verifier: Authorization is neither a Bearer nor a DPoP token")
)

// Scheme is how a request presented its token.
type Scheme string

// The two schemes VerifyRequest reads.
const (
	SchemeBearer Scheme = "Bearer"
	SchemeDPoP   Scheme = "DPoP"
)

// RequestScheme reads r's Authorization header: its scheme and token, or
// ok false when it holds neither a Bearer nor a DPoP token.
func RequestScheme(r *http.Request) (scheme Scheme, token string, ok bool) {
	name, raw, found := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(raw)
	if !found || token == "" {
		return "", "", false
	}
	switch {
	case strings.EqualFold(name, string(SchemeBearer)):
		return SchemeBearer, token, true
	case strings.EqualFold(name, string(SchemeDPoP)):
		return SchemeDPoP, token, true
	}
	return "", "", false
}

// VerifyRequest verifies r's access token with the scheme it was sent
// with. A Bearer token must not be DPoP-bound. A DPoP token must be bound
// (cnf.jkt) and come with exactly one DPoP proof that passes every check
// of RFC 9449 §4.3 and §7.1: htm and htu of r, a fresh iat, ath = the
// token's hash, the proof key's thumbprint = cnf.jkt, and a jti never seen
// before (claimed last, once everything else holds, so a forged request
// cannot spend one).
func (v *Verifier) VerifyRequest(r *http.Request) (*Claims, error) {
	scheme, raw, ok := RequestScheme(r)
	if !ok {
		if r.Header.Get("Authorization") == "" {
			return nil, ErrNoToken
		}
		return nil, ErrBadAuthorization
	}
	ctx := r.Context()
	if scheme == SchemeBearer {
		c, err := v.Verify(ctx, raw)
		if err != nil {
			return nil, err
		}
		if c.JKT != "" {
			return nil, ErrBoundTokenAsBearer
		}
		return c, nil
	}
	if v.cfg.DPoP == nil {
		return nil, ErrDPoPNotAccepted
	}
	proofs := r.Header.Values("DPoP")
	if len(proofs) != 1 {
		return nil, ErrDPoPProofMissing
	}
	proof, err := v.cfg.DPoP.Validate(proofs[0], ProofRequest{Method: r.Method, URI: v.requestURI(r), AccessToken: raw})
	if err != nil {
		return nil, err
	}
	c, err := v.Verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	if c.JKT == "" {
		return nil, ErrTokenNotBound
	}
	if subtle.ConstantTimeCompare([]byte(c.JKT), []byte(proof.JKT)) != 1 {
		return nil, ErrDPoPKeyMismatch
	}
	if err := v.cfg.DPoP.Admit(ctx, proof); err != nil {
		return nil, err
	}
	return c, nil
}

func (v *Verifier) requestURI(r *http.Request) string {
	if v.cfg.RequestURI != nil {
		return v.cfg.RequestURI(r)
	}
	return RequestURI(r)
}

// RequestURI is r's target URI without query: the scheme from r.TLS, the
// Host header and the path. Behind a proxy that terminates TLS, set
// Config.RequestURI to the public URL instead.
func RequestURI(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.EscapedPath()
}

// MemoryReplayCache is an in-process ReplayCache for one resource-server
// instance (several instances need a shared one, e.g. in Redis). Expired
// entries are swept as new ones arrive; when it holds MaxEntries live
// ones it refuses (fails closed) rather than grow without bound.
//
// Entries are a SHA-256 of the key and a Unix time: a fixed 40 bytes
// whatever the key, and a map without pointers, which the garbage
// collector need not scan however many proofs it remembers.
type MemoryReplayCache struct {
	mu         sync.Mutex
	seen       map[[sha256.Size]byte]int64 // key hash → expiry, Unix nanoseconds
	lastSweep  time.Time
	now        func() time.Time
	MaxEntries int
}

// NewMemoryReplayCache returns an empty cache; now nil means time.Now.
func NewMemoryReplayCache(now func() time.Time) *MemoryReplayCache {
	if now == nil {
		now = time.Now
	}
	return &MemoryReplayCache{seen: map[[sha256.Size]byte]int64{}, now: now, MaxEntries: 1 << 20}
}

// errReplayCacheFull is returned when the cache is full of live entries.
var errReplayCacheFull = errors.New("verifier: replay cache full")

// Claim implements ReplayCache.
func (m *MemoryReplayCache) Claim(_ context.Context, key string, until time.Time) (bool, error) {
	h := sha256.Sum256([]byte(key))
	now := m.now()
	n := now.UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	if now.Sub(m.lastSweep) > time.Minute || len(m.seen) >= m.MaxEntries {
		for k, exp := range m.seen {
			if n >= exp {
				delete(m.seen, k)
			}
		}
		m.lastSweep = now
	}
	if exp, ok := m.seen[h]; ok && n < exp {
		return false, nil
	}
	if len(m.seen) >= m.MaxEntries {
		return false, errReplayCacheFull
	}
	m.seen[h] = until.UnixNano()
	return true, nil
}
