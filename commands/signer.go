package commands

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authledger/authledger/domain/keyring"
	"github.com/authledger/authledger/domain/token"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/secrets"
)

var (
	// ErrNoActiveKey: the key ring has no signing key (yet). Signing fails
	// closed rather than using a retired or revoked key.
	ErrNoActiveKey = errors.New("signer: no active signing key")
	// ErrKeyMismatch: the provider's private key does not match the public
	// JWK the ledger published.
	ErrKeyMismatch = errors.New("signer: private key does not match the published key")
	// ErrInvalidClaims: the claims cannot make a valid RFC 9068 token.
	ErrInvalidClaims = errors.New("signer: invalid claims")
)

// ActiveKeys tells the signer which key signs now. The JWKS read model
// implements it from the ledger feed, so signing never reads the key ring.
type ActiveKeys interface {
	ActiveKey() (keyring.Key, bool)
}

// JWTSignerConfig configures the signer.
type JWTSignerConfig struct {
	Issuer  string
	Store   eventstore.Store
	Secrets secrets.Provider
	Keys    ActiveKeys
	// Tokens bounds lifetimes; zero value means token.DefaultPolicy().
	Tokens *token.Policy
	Now    func() time.Time
}

// JWTSigner implements Signer: RFC 9068 access and M2M JWTs, EdDSA, with
// the active key, each issuance appended as token.TypeIssued.
type JWTSigner struct {
	issuer  string
	store   eventstore.Store
	secrets secrets.Provider
	keys    ActiveKeys
	tokens  token.Policy
	now     func() time.Time

	mu    sync.RWMutex
	cache map[string]*compactSigner // kid+typ → signer over the private key, loaded once per key
}

var _ Signer = (*JWTSigner)(nil)

// NewJWTSigner checks the configuration.
func NewJWTSigner(cfg JWTSignerConfig) (*JWTSigner, error) {
	var errs []error
	if cfg.Issuer == "" {
		errs = append(errs, errors.New("signer: Issuer is required"))
	}
	if cfg.Store == nil || cfg.Secrets == nil || cfg.Keys == nil {
		errs = append(errs, errors.New("signer: Store, Secrets and Keys are required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := &JWTSigner{issuer: cfg.Issuer, store: cfg.Store, secrets: cfg.Secrets, keys: cfg.Keys, now: cfg.Now, cache: map[string]*compactSigner{}}
	if cfg.Tokens != nil {
		s.tokens = *cfg.Tokens
	} else {
		s.tokens = token.DefaultPolicy()
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// jwtClaims is the RFC 9068 payload, marshalled once and signed as is
// (no builder normalising it through a map and back). Times are Unix
// seconds; Audience is a string for one audience and an array for more,
// as go-jose's jwt.Audience writes it. A new claim is a new field.
type jwtClaims struct {
	Issuer    string        `json:"iss"`
	Subject   string        `json:"sub"`
	Audience  audience      `json:"aud"`
	Expiry    int64         `json:"exp"`
	IssuedAt  int64         `json:"iat"`
	NotBefore int64         `json:"nbf"`
	ID        string        `json:"jti"`
	ClientID  string        `json:"client_id"`
	Scope     string        `json:"scope,omitempty"`
	SessionID string        `json:"sid,omitempty"`
	AuthTime  int64         `json:"auth_time,omitempty"`
	ACR       string        `json:"acr,omitempty"`
	AMR       []string      `json:"amr,omitempty"`
	Cnf       *confirmation `json:"cnf,omitempty"`
}

// confirmation is the RFC 7800 cnf claim of a DPoP-bound token (RFC 9449
// §6.1).
type confirmation struct {
	JKT string `json:"jkt"`
}

// audience marshals one audience as a string (RFC 7519 §4.1.3 allows
// both; the single string is what tokens carried before).
type audience []string

func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// Sign issues a token for c with the active key and records the issuance.
// If the ledger append fails no token is returned.
func (s *JWTSigner) Sign(ctx context.Context, c token.Claims, meta Metadata) (token.Issued, error) {
	class, lifetime, err := s.check(c)
	if err != nil {
		return token.Issued{}, err
	}
	key, ok := s.keys.ActiveKey()
	if !ok {
		return token.Issued{}, ErrNoActiveKey
	}
	signer, err := s.signer(ctx, key, class.JWTType)
	if err != nil {
		return token.Issued{}, err
	}
	now := s.now().UTC().Truncate(time.Second)
	exp := now.Add(lifetime)
	jti, err := newJTI()
	if err != nil {
		return token.Issued{}, err
	}
	scope := strings.Join(c.Scope, " ")
	cl := jwtClaims{
		Issuer: s.issuer, Subject: c.Subject, Audience: audience(c.Audience),
		Expiry: exp.Unix(), IssuedAt: now.Unix(), NotBefore: now.Unix(),
		ID: jti, ClientID: c.ClientID, Scope: scope, SessionID: c.SessionID, ACR: c.ACR, AMR: c.AMR,
	}
	if !c.AuthTime.IsZero() {
		cl.AuthTime = c.AuthTime.Unix()
	}
	if c.JKT != "" {
		cl.Cnf = &confirmation{JKT: c.JKT}
	}
	payload, err := json.Marshal(cl)
	if err != nil {
		return token.Issued{}, fmt.Errorf("sign: %w", err)
	}
	raw := signer.sign(payload)
	ev := token.IssuedEvent{JTI: jti, Class: c.Class, Subject: c.Subject, ClientID: c.ClientID, Audience: c.Audience, Scope: scope,
		SessionID: c.SessionID, FamilyID: c.FamilyID, KeyID: key.KID, IssuedAt: now, ExpiresAt: exp, JKT: c.JKT}
	t := token.Load(jti, nil)
	if err := t.Issue(ev); err != nil {
		return token.Issued{}, err
	}
	if _, err := AppendAll(ctx, s.store, meta, Changes(t)); err != nil {
		return token.Issued{}, fmt.Errorf("record issuance: %w", err)
	}
	return token.Issued{Raw: raw, JTI: jti, KeyID: key.KID, IssuedAt: now, ExpiresAt: exp, JKT: c.JKT}, nil
}

func (s *JWTSigner) check(c token.Claims) (token.Class, time.Duration, error) {
	class := s.tokens.Class(c.Class)
	bad := func(format string, a ...any) (token.Class, time.Duration, error) {
		return token.Class{}, 0, fmt.Errorf("%w: "+format, append([]any{ErrInvalidClaims}, a...)...)
	}
	switch {
	case class.JWTType == "":
		return bad("class %q is not a JWT class", c.Class)
	case c.Subject == "" || c.ClientID == "":
		return bad("sub and client_id are required")
	case len(c.Audience) == 0:
		return bad("aud is required")
	case c.Lifetime < 0:
		return bad("negative lifetime")
	case c.JKT != "" && !validJKT(c.JKT):
		return bad("jkt is not a base64url SHA-256 thumbprint")
	case c.Lifetime > class.Lifetime:
		return token.Class{}, 0, fmt.Errorf("%w: %s asks %s, bound %s", token.ErrLifetimeTooLong, c.Class, c.Lifetime, class.Lifetime)
	}
	for _, sc := range c.Scope {
		if sc == "" || strings.ContainsAny(sc, " \t\r\n\"\\") {
			return bad("scope %q is not an RFC 6749 scope token", sc)
		}
	}
	lifetime := class.Lifetime
	if c.Lifetime > 0 {
		lifetime = c.Lifetime
	}
	return class, lifetime, nil
}

// compactSigner signs compact JWS (RFC 7515 §7.1) with one Ed25519 key
// and one protected header, encoded once: a token costs one payload
// encoding and one signature. The header is the one go-jose writes for
// these options (sorted keys), so tokens look as they did.
type compactSigner struct {
	priv   ed25519.PrivateKey
	header string // base64url of {"alg":"EdDSA","kid":…,"typ":…}
}

func newCompactSigner(priv ed25519.PrivateKey, kid, typ string) (*compactSigner, error) {
	h, err := json.Marshal(struct {
		Alg string `json:"alg"`
		KID string `json:"kid"`
		Typ string `json:"typ"`
	}{string(jose.EdDSA), kid, typ})
	if err != nil {
		return nil, err
	}
	return &compactSigner{priv: priv, header: base64.RawURLEncoding.EncodeToString(h)}, nil
}

// signBufs are the scratch buffers of the signing input (public bytes
// only: header, payload, signature), reused so a token costs one
// allocation for its string.
var signBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// sign returns header.payload.signature.
func (c *compactSigner) sign(payload []byte) string {
	enc := base64.RawURLEncoding
	bp := signBufs.Get().(*[]byte)
	buf := append((*bp)[:0], c.header...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	sig := ed25519.Sign(c.priv, buf)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	token := string(buf)
	*bp = buf
	signBufs.Put(bp)
	return token
}

// signer returns the cached signer for key and typ, loading the private
// key from the provider the first time the key signs.
func (s *JWTSigner) signer(ctx context.Context, key keyring.Key, typ string) (*compactSigner, error) {
	cacheKey := key.KID + "\n" + typ
	s.mu.RLock()
	sg, ok := s.cache[cacheKey]
	s.mu.RUnlock()
	if ok {
		return sg, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sg, ok := s.cache[cacheKey]; ok {
		return sg, nil
	}
	priv, err := loadPrivateKey(ctx, s.secrets, key)
	if err != nil {
		return nil, err
	}
	sg, err = newCompactSigner(priv, key.KID, typ)
	if err != nil {
		return nil, fmt.Errorf("signer for %s: %w", key.KID, err)
	}
	// A new active key means the previous ones sign nothing more: drop
	// their private halves from memory (a retired or revoked key's
	// material should not outlive its use).
	for k := range s.cache {
		if !strings.HasPrefix(k, key.KID+"\n") {
			delete(s.cache, k)
		}
	}
	s.cache[cacheKey] = sg
	return sg, nil
}

func newJTI() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// checkpointType is the typ of ledger checkpoints, so a checkpoint can never
// pass as an access token (the verifier demands at+jwt) nor the reverse.
const checkpointType = "authledger-checkpoint+jwt"

// SignCheckpoint signs the ledger head (DESIGN.md §3) as a compact JWS with
// the active key: {"position", "hash", "iat"}, header kid. An auditor who
// keeps it can later prove the ledger still holds exactly that prefix.
func (s *JWTSigner) SignCheckpoint(ctx context.Context, head eventstore.Head) (string, error) {
	key, ok := s.keys.ActiveKey()
	if !ok {
		return "", ErrNoActiveKey
	}
	signer, err := s.signer(ctx, key, checkpointType)
	if err != nil {
		return "", err
	}
	hash := head.Hash
	if hash == "" {
		hash = eventstore.GenesisHash
	}
	payload, err := json.Marshal(struct {
		Position uint64 `json:"position"`
		Hash     string `json:"hash"`
		IAT      int64  `json:"iat"`
	}{head.Position, hash, s.now().Unix()})
	if err != nil {
		return "", err
	}
	return signer.sign(payload), nil
}

// validJKT: an RFC 7638 SHA-256 thumbprint in base64url is 43 characters.
func validJKT(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == 32
}

// loadPrivateKey reads key's private half from the provider and checks it
// is the one the ledger published (a provider holding other material under
// the same name and version is ErrKeyMismatch, not a key).
func loadPrivateKey(ctx context.Context, p secrets.Provider, key keyring.Key) (ed25519.PrivateKey, error) {
	sec, err := p.GetVersion(ctx, key.Secret.Name, key.Secret.Version)
	if err != nil {
		return nil, fmt.Errorf("load signing key %s: %w", key.KID, err)
	}
	if sec.Value.Len() != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: %s", ErrKeyMismatch, key.KID)
	}
	priv := ed25519.NewKeyFromSeed(sec.Value.Bytes())
	want, err := base64.RawURLEncoding.DecodeString(key.JWK.X)
	if err != nil || subtle.ConstantTimeCompare(want, priv.Public().(ed25519.PublicKey)) != 1 {
		return nil, fmt.Errorf("%w: %s", ErrKeyMismatch, key.KID)
	}
	return priv, nil
}
