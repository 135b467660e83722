package verifier

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// TokenType is the JOSE typ of access tokens (RFC 9068 §2.1).
const TokenType = "at+jwt"

// DefaultMaxTokenBytes bounds a token before any parsing: authledger's
// tokens are well under 2 KiB.
const DefaultMaxTokenBytes = 8 << 10

// DefaultLeeway is a reasonable clock leeway to choose explicitly; Config
// has no implicit default.
const DefaultLeeway = 30 * time.Second

// MaxLeeway is the largest clock leeway New accepts.
const MaxLeeway = 5 * time.Minute

// Revocation is the in-memory revocation set the revocation read model
// provides. It must answer from memory: it runs on every verification.
type Revocation interface {
	IsRevoked(jti, sid, family string) bool
}

// ClientRevocation is an optional extension of Revocation: a set that also
// knows disabled clients (revocation feed entries of type "client"). When
// the configured Revocation implements it, every token whose client_id it
// names is refused with ErrRevoked. It must answer from memory too.
type ClientRevocation interface {
	IsClientRevoked(clientID string) bool
}

// Config configures a Verifier.
type Config struct {
	// Issuer is the exact iss every token must carry.
	Issuer string
	// Audiences: a token is accepted when its aud holds at least one of
	// them. Required unless AnyAudience is set.
	Audiences []string
	// AnyAudience skips the audience check (introspection, which reports
	// aud instead of enforcing it). Never set it on a resource server.
	AnyAudience bool
	// Keys finds signing keys: a Remote JWKS, or the issuer's in-process
	// read model.
	Keys KeySource
	// Leeway is the clock tolerance for exp, nbf and iat. There is no
	// default: zero means none. At most MaxLeeway.
	Leeway time.Duration
	// MaxTokenBytes bounds the raw token; zero means DefaultMaxTokenBytes.
	MaxTokenBytes int
	// Revocation, if set, is consulted after every other check, by jti
	// and sid, and by client_id when it also implements ClientRevocation.
	Revocation Revocation
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Observer, if set, receives every verification's latency, result and
	// reason (a histogram's input; see Observer).
	Observer Observer
	// DPoP, if set, lets VerifyRequest accept DPoP-bound tokens (RFC 9449
	// §7) with their proofs. Without it a DPoP-bound token is refused
	// whatever the scheme.
	DPoP *ProofChecker
	// RequestURI, if set, is the URI a client addressed for r (behind a
	// TLS-terminating proxy, the public https URL); nil derives it from r
	// (scheme from r.TLS, r.Host, r.URL.Path). A proof's htu must name it.
	RequestURI func(r *http.Request) string
}

// Verifier checks tokens. It is safe for concurrent use.
type Verifier struct {
	cfg Config
}

// New checks the configuration.
func New(cfg Config) (*Verifier, error) {
	var errs []error
	if cfg.Issuer == "" {
		errs = append(errs, errors.New("verifier: Issuer is required"))
	}
	if len(cfg.Audiences) == 0 && !cfg.AnyAudience {
		errs = append(errs, errors.New("verifier: Audiences is required (or AnyAudience)"))
	}
	if cfg.Keys == nil {
		errs = append(errs, errors.New("verifier: Keys is required"))
	}
	if cfg.Leeway < 0 || cfg.Leeway > MaxLeeway {
		errs = append(errs, fmt.Errorf("verifier: Leeway must be between 0 and %s", MaxLeeway))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.MaxTokenBytes <= 0 {
		cfg.MaxTokenBytes = DefaultMaxTokenBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Audiences = slices.Clone(cfg.Audiences)
	return &Verifier{cfg: cfg}, nil
}

// Claims are a verified token's claims.
type Claims struct {
	Issuer    string
	Subject   string
	Audience  []string
	ExpiresAt time.Time
	IssuedAt  time.Time
	NotBefore time.Time // zero when absent
	ID        string    // jti
	ClientID  string
	Scope     []string
	// User tokens only.
	SessionID string
	AuthTime  time.Time
	ACR       string
	AMR       []string
	// KeyID is the kid that signed the token.
	KeyID string
	// JKT is cnf.jkt (RFC 9449 §6.1): the thumbprint of the key the token
	// is bound to, "" for a bearer token.
	JKT string
}

// HasScope reports whether the token grants scope s.
func (c *Claims) HasScope(s string) bool { return slices.Contains(c.Scope, s) }

type header struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
	Kid string `json:"kid"`
}

type payload struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  jwt.Audience     `json:"aud"`
	Expiry    *jwt.NumericDate `json:"exp"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	ID        string           `json:"jti"`
	ClientID  string           `json:"client_id"`
	Scope     string           `json:"scope"`
	SessionID string           `json:"sid"`
	AuthTime  *jwt.NumericDate `json:"auth_time"`
	ACR       string           `json:"acr"`
	AMR       []string         `json:"amr"`
	Cnf       *confirmation    `json:"cnf"`
}

// confirmation is the RFC 7800 cnf claim; only jkt (RFC 9449 §6.1) is read.
type confirmation struct {
	JKT string `json:"jkt"`
}

var allowedAlgs = []jose.SignatureAlgorithm{jose.EdDSA}

// ed25519SigB64Len is the base64url length of a 64-byte signature.
const ed25519SigB64Len = 86

// Verify checks raw and returns its claims. The order is fixed: cheap
// structural checks first, then the key, the signature, the claims, and
// revocation last, so nothing unauthenticated reaches the claim checks.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	if v.cfg.Observer == nil {
		return v.verify(ctx, raw)
	}
	start := time.Now()
	c, err := v.verify(ctx, raw)
	v.observe(time.Since(start), err)
	return c, err
}

func (v *Verifier) verify(ctx context.Context, raw string) (*Claims, error) {
	if len(raw) > v.cfg.MaxTokenBytes {
		return nil, fmt.Errorf("%w (%d bytes, limit %d)", ErrTokenTooLarge, len(raw), v.cfg.MaxTokenBytes)
	}
	if raw == "" {
		return nil, ErrNoToken
	}
	dot1 := strings.IndexByte(raw, '.')
	dot2 := strings.LastIndexByte(raw, '.')
	if dot1 <= 0 || dot2 == dot1 || strings.Count(raw, ".") != 2 {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrMalformed)
	}
	hb, err := base64.RawURLEncoding.DecodeString(raw[:dot1])
	if err != nil {
		return nil, fmt.Errorf("%w: header is not base64url", ErrMalformed)
	}
	var h header
	if err := h.decode(hb); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	if h.Alg != string(jose.EdDSA) {
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlg, truncate(h.Alg))
	}
	if !strings.EqualFold(h.Typ, TokenType) && !strings.EqualFold(h.Typ, "application/"+TokenType) {
		return nil, fmt.Errorf("%w: %q", ErrWrongType, truncate(h.Typ))
	}
	if !validKID(h.Kid) {
		return nil, ErrInvalidKID
	}
	if len(raw)-dot2-1 != ed25519SigB64Len {
		return nil, fmt.Errorf("%w: not an Ed25519 signature", ErrBadSignature)
	}
	pub, err := v.cfg.Keys.Key(ctx, h.Kid)
	if err != nil {
		return nil, err
	}
	jws, err := jose.ParseSignedCompact(raw, allowedAlgs)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	body, err := jws.Verify(pub)
	if err != nil {
		if errors.Is(err, jose.ErrCryptoFailure) {
			return nil, ErrBadSignature
		}
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var p payload
	if err := p.decode(body); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	c, err := v.checkClaims(&p)
	if err != nil {
		return nil, err
	}
	c.KeyID = h.Kid
	if v.cfg.Revocation != nil && v.cfg.Revocation.IsRevoked(c.ID, c.SessionID, "") {
		return nil, ErrRevoked
	}
	if cr, ok := v.cfg.Revocation.(ClientRevocation); ok && cr.IsClientRevoked(c.ClientID) {
		return nil, ErrRevoked
	}
	return c, nil
}

func (v *Verifier) checkClaims(p *payload) (*Claims, error) {
	missing := func(name string) error { return fmt.Errorf("%w: %s", ErrMissingClaim, name) }
	switch {
	case p.Issuer == "":
		return nil, missing("iss")
	case p.Subject == "":
		return nil, missing("sub")
	case len(p.Audience) == 0:
		return nil, missing("aud")
	case p.Expiry == nil:
		return nil, missing("exp")
	case p.IssuedAt == nil:
		return nil, missing("iat")
	case p.ID == "":
		return nil, missing("jti")
	case p.ClientID == "":
		return nil, missing("client_id")
	}
	if p.Issuer != v.cfg.Issuer {
		return nil, ErrWrongIssuer
	}
	if !v.cfg.AnyAudience && !slices.ContainsFunc(v.cfg.Audiences, func(a string) bool { return slices.Contains(p.Audience, a) }) {
		return nil, ErrWrongAudience
	}
	now := v.cfg.Now()
	leeway := v.cfg.Leeway
	exp, iat := p.Expiry.Time(), p.IssuedAt.Time()
	if !now.Before(exp.Add(leeway)) {
		return nil, ErrExpired
	}
	var nbf time.Time
	if p.NotBefore != nil {
		nbf = p.NotBefore.Time()
		if now.Add(leeway).Before(nbf) {
			return nil, ErrNotYetValid
		}
	}
	if now.Add(leeway).Before(iat) {
		return nil, ErrIssuedInFuture
	}
	c := &Claims{Issuer: p.Issuer, Subject: p.Subject, Audience: p.Audience, ExpiresAt: exp, IssuedAt: iat, NotBefore: nbf,
		ID: p.ID, ClientID: p.ClientID, Scope: strings.Fields(p.Scope), SessionID: p.SessionID, ACR: p.ACR, AMR: p.AMR}
	if p.Cnf != nil {
		if p.Cnf.JKT == "" {
			// A cnf that binds to nothing this verifier knows must not
			// read as a bearer token.
			return nil, fmt.Errorf("%w: cnf without jkt", ErrMalformed)
		}
		c.JKT = p.Cnf.JKT
	}
	if p.AuthTime != nil {
		c.AuthTime = p.AuthTime.Time()
	}
	return c, nil
}

// truncate keeps attacker-chosen header values short in error text.
func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
