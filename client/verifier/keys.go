package verifier

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// KeySource finds the Ed25519 public key for a kid. It returns
// ErrUnknownKey (or ErrKeyRevoked, when it knows) for keys it cannot vouch
// for. Remote fetches the issuer's JWKS; authledger itself passes its
// in-process JWKS read model, so it verifies with no HTTP at all.
type KeySource interface {
	Key(ctx context.Context, kid string) (ed25519.PublicKey, error)
}

// KeySet is a fixed set of keys, e.g. a parsed JWKS.
type KeySet struct {
	keys map[string]ed25519.PublicKey
}

var _ KeySource = (*KeySet)(nil)

// Key implements KeySource.
func (s *KeySet) Key(_ context.Context, kid string) (ed25519.PublicKey, error) {
	if k, ok := s.keys[kid]; ok {
		return k, nil
	}
	return nil, ErrUnknownKey
}

// KIDs returns the kids in the set (any order).
func (s *KeySet) KIDs() []string {
	out := make([]string, 0, len(s.keys))
	for k := range s.keys {
		out = append(out, k)
	}
	return out
}

// NewKeySet builds a set from kid → key.
func NewKeySet(keys map[string]ed25519.PublicKey) *KeySet {
	m := make(map[string]ed25519.PublicKey, len(keys))
	for k, v := range keys {
		m[k] = v
	}
	return &KeySet{keys: m}
}

type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	D   string `json:"d"`
}

// MaxJWKSKeys bounds how many keys a JWKS may hold; authledger publishes
// a handful, so a huge set is an attack or a mistake.
const MaxJWKSKeys = 64

// ParseJWKS reads an RFC 7517 JWK Set. Keys that are not Ed25519 signing
// keys are skipped (a set may hold other algorithms); a duplicate kid, a
// kid-less Ed25519 key, or private material rejects the whole set, because
// choosing between two keys with one kid would let an attacker pick.
func ParseJWKS(b []byte) (*KeySet, error) {
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidJWKS, err)
	}
	if doc.Keys == nil {
		return nil, fmt.Errorf("%w: no keys member", ErrInvalidJWKS)
	}
	if len(doc.Keys) > MaxJWKSKeys {
		return nil, fmt.Errorf("%w: %d keys", ErrInvalidJWKS, len(doc.Keys))
	}
	seen := map[string]bool{}
	set := &KeySet{keys: map[string]ed25519.PublicKey{}}
	for _, k := range doc.Keys {
		if k.Kid != "" {
			if seen[k.Kid] {
				return nil, fmt.Errorf("%w: %q", ErrDuplicateKID, k.Kid)
			}
			seen[k.Kid] = true
		}
		if k.Kty != "OKP" || k.Crv != "Ed25519" || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "EdDSA" && k.Alg != "Ed25519") {
			continue
		}
		if k.D != "" {
			return nil, fmt.Errorf("%w: private key material in a public set", ErrInvalidJWKS)
		}
		if !validKID(k.Kid) {
			return nil, fmt.Errorf("%w: Ed25519 key with missing or invalid kid", ErrInvalidJWKS)
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: key %q: x is not 32 bytes of base64url", ErrInvalidJWKS, k.Kid)
		}
		set.keys[k.Kid] = ed25519.PublicKey(x)
	}
	return set, nil
}

// validKID accepts what authledger issues (RFC 7638 thumbprints) and other
// issuers' usual kids, and nothing that could act as a path, URL or query
// fragment in a careless key store.
func validKID(kid string) bool {
	if kid == "" || len(kid) > 128 {
		return false
	}
	for i := 0; i < len(kid); i++ {
		c := kid[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return kid != "." && kid != ".."
}
