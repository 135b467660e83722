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
	"github.com/go-jose/go-jose/v4/jwt"

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
	cache map[string]jose.Signer // kid → signer over the private key, loaded once per key
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
	s := &JWTSigner{issuer: cfg.Issuer, store: cfg.Store, secrets: cfg.Secrets, keys: cfg.Keys, now: cfg.Now, cache: map[string]jose.Signer{}}
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

// jwtClaims is the RFC 9068 payload. NumericDate makes iat/exp/nbf seconds.
type jwtClaims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  jwt.Audience     `json:"aud"`
	Expiry    *jwt.NumericDate `json:"exp"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	ID        string           `json:"jti"`
	ClientID  string           `json:"client_id"`
	Scope     string           `json:"scope,omitempty"`
	SessionID string           `json:"sid,omitempty"`
	AuthTime  *jwt.NumericDate `json:"auth_time,omitempty"`
	ACR       string           `json:"acr,omitempty"`
	AMR       []string         `json:"amr,omitempty"`
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
		Issuer: s.issuer, Subject: c.Subject, Audience: jwt.Audience(c.Audience),
		Expiry: jwt.NewNumericDate(exp), IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
		ID: jti, ClientID: c.ClientID, Scope: scope, SessionID: c.SessionID, ACR: c.ACR, AMR: c.AMR,
	}
	if !c.AuthTime.IsZero() {
		cl.AuthTime = jwt.NewNumericDate(c.AuthTime)
	}
	raw, err := jwt.Signed(signer).Claims(cl).Serialize()
	if err != nil {
		return token.Issued{}, fmt.Errorf("sign: %w", err)
	}
	ev := token.IssuedEvent{JTI: jti, Class: c.Class, Subject: c.Subject, ClientID: c.ClientID, Audience: c.Audience, Scope: scope,
		SessionID: c.SessionID, FamilyID: c.FamilyID, KeyID: key.KID, IssuedAt: now, ExpiresAt: exp}
	t := token.Load(jti, nil)
	if err := t.Issue(ev); err != nil {
		return token.Issued{}, err
	}
	if _, err := AppendAll(ctx, s.store, meta, Changes(t)); err != nil {
		return token.Issued{}, fmt.Errorf("record issuance: %w", err)
	}
	return token.Issued{Raw: raw, JTI: jti, KeyID: key.KID, IssuedAt: now, ExpiresAt: exp}, nil
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

// signer returns the cached go-jose signer for key, loading the private key
// from the provider the first time the key signs.
func (s *JWTSigner) signer(ctx context.Context, key keyring.Key, typ string) (jose.Signer, error) {
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
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader(jose.HeaderKey("kid"), key.KID)
	sg, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: priv}, opts)
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
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign checkpoint: %w", err)
	}
	return jws.CompactSerialize()
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
