package refreshtoken

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Claims is what a sealed refresh token carries (DESIGN.md §4).
type Claims struct {
	Family     FamilyID
	Generation uint64
	Token      TokenID
	ExpiresAt  time.Time // whole seconds
	// KeyID is the sealing key that sealed (or will seal) the token.
	KeyID string
}

// Token format v1:
//
//	rt1.<key id>.<base64url(nonce ‖ AES-256-GCM(plaintext))>
//
// plaintext is 49 bytes: version 1, family (16), generation (8, big endian),
// token id (16), expiry (8, Unix seconds, big endian). The additional data
// is "rt1.<key id>", so a token cannot be moved to another key id.
//
// Sealing is deterministic: the nonce is HMAC-SHA256(nonce key, plaintext)
// truncated to 12 bytes (a synthetic IV, as in SIV modes). The plaintext
// always holds a fresh random token id, so distinct tokens never share a
// nonce, and the same claims always seal to the same string. That is what
// lets a retry within the grace period receive the very successor it missed:
// the ledger records the successor's ids, key id and expiry — never the
// token — and the token is re-derived from them.
const (
	prefix       = "rt1."
	plainLen     = 1 + 16 + 8 + 16 + 8
	nonceLen     = 12
	sealedLen    = nonceLen + plainLen + 16
	encodedLen   = (sealedLen*8 + 5) / 6
	plainVersion = 1
	maxKeyIDLen  = 64
)

// KeyBytes is the sealing key size (AES-256).
const KeyBytes = 32

type sealKey struct {
	aead  cipher.AEAD
	nonce []byte
}

// Codec seals and opens refresh tokens with a set of keys, one of them
// active for new tokens. Old keys stay to open tokens sealed before a
// rotation.
type Codec struct {
	active string
	keys   map[string]sealKey
}

// NewCodec builds a codec. keys maps key id → 32-byte key; active must be
// one of them. Key ids are 1–64 characters of [A-Za-z0-9_-].
func NewCodec(active string, keys map[string][]byte) (*Codec, error) {
	c := &Codec{active: active, keys: make(map[string]sealKey, len(keys))}
	for kid, k := range keys {
		if !validKeyID(kid) {
			return nil, fmt.Errorf("refreshtoken: key id %q must be 1-64 characters of [A-Za-z0-9_-]", kid)
		}
		if len(k) != KeyBytes {
			return nil, fmt.Errorf("refreshtoken: sealing key %s must be %d bytes", kid, KeyBytes)
		}
		enc := derive(k, "authledger refresh-token v1 encryption")
		block, err := aes.NewCipher(enc)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		c.keys[kid] = sealKey{aead: aead, nonce: derive(k, "authledger refresh-token v1 nonce")}
	}
	if _, ok := c.keys[active]; !ok {
		return nil, errors.New("refreshtoken: the active sealing key is not in the key set")
	}
	return c, nil
}

func derive(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	return m.Sum(nil)
}

func validKeyID(s string) bool {
	if len(s) == 0 || len(s) > maxKeyIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ActiveKeyID is the key id new tokens are sealed with.
func (c *Codec) ActiveKeyID() string { return c.active }

// Seal returns the token for cl, sealed with cl.KeyID (the active key when
// empty). The same claims always give the same token.
func (c *Codec) Seal(cl Claims) (string, error) {
	kid := cl.KeyID
	if kid == "" {
		kid = c.active
	}
	k, ok := c.keys[kid]
	if !ok {
		return "", fmt.Errorf("refreshtoken: sealing key %s is not available", kid)
	}
	if cl.Family.IsZero() || cl.Token.IsZero() || cl.Generation == 0 {
		return "", errors.New("refreshtoken: claims need family, token and generation")
	}
	var plain [plainLen]byte
	plain[0] = plainVersion
	copy(plain[1:17], cl.Family[:])
	binary.BigEndian.PutUint64(plain[17:25], cl.Generation)
	copy(plain[25:41], cl.Token[:])
	binary.BigEndian.PutUint64(plain[41:49], uint64(cl.ExpiresAt.Unix()))
	m := hmac.New(sha256.New, k.nonce)
	m.Write(plain[:])
	nonce := m.Sum(nil)[:nonceLen]
	ad := prefix + kid
	out := make([]byte, 0, sealedLen)
	out = append(out, nonce...)
	out = k.aead.Seal(out, nonce, plain[:], []byte(ad))
	return ad + "." + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open authenticates and decodes raw. Every failure is ErrMalformed, so a
// caller cannot tell a forged token from a truncated one. Expiry is not
// checked here (see Claims.Expired).
func (c *Codec) Open(raw string) (Claims, error) {
	rest, ok := strings.CutPrefix(raw, prefix)
	if !ok {
		return Claims{}, ErrMalformed
	}
	kid, body, ok := strings.Cut(rest, ".")
	if !ok || !validKeyID(kid) || len(body) != encodedLen {
		return Claims{}, ErrMalformed
	}
	k, ok := c.keys[kid]
	if !ok {
		return Claims{}, ErrMalformed
	}
	sealed, err := base64.RawURLEncoding.Strict().DecodeString(body)
	if err != nil || len(sealed) != sealedLen {
		return Claims{}, ErrMalformed
	}
	plain, err := k.aead.Open(nil, sealed[:nonceLen], sealed[nonceLen:], []byte(prefix+kid))
	if err != nil || len(plain) != plainLen || plain[0] != plainVersion {
		return Claims{}, ErrMalformed
	}
	var cl Claims
	copy(cl.Family[:], plain[1:17])
	cl.Generation = binary.BigEndian.Uint64(plain[17:25])
	copy(cl.Token[:], plain[25:41])
	exp := binary.BigEndian.Uint64(plain[41:49])
	if exp > 1<<62 {
		return Claims{}, ErrMalformed
	}
	cl.ExpiresAt = time.Unix(int64(exp), 0).UTC()
	cl.KeyID = kid
	return cl, nil
}

// Expired reports whether the token has expired at now.
func (cl Claims) Expired(now time.Time) bool { return !now.Before(cl.ExpiresAt) }

// KeyIDOf returns the key id a token names, without opening it, so a caller
// holding an older key set knows to reload. ok is false for a value that
// is not shaped like a token.
func KeyIDOf(raw string) (kid string, ok bool) {
	rest, ok := strings.CutPrefix(raw, prefix)
	if !ok {
		return "", false
	}
	kid, _, ok = strings.Cut(rest, ".")
	return kid, ok && validKeyID(kid)
}

// Has reports whether the codec holds key id kid.
func (c *Codec) Has(kid string) bool { _, ok := c.keys[kid]; return ok }
