package client

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// SecretBytes is the entropy of a server-generated client secret.
const SecretBytes = 32

// Client secret hash schemes, as the hash field of SecretAdded and
// SecretRotated holds them (docs/services.md, docs/ledger-format.md):
//
//   - v1, 64 lower-case hex characters: the unsalted SHA-256 of the secret.
//     Every secret registered before v2 has one. Anyone holding an export
//     could confirm a guessed secret against it, so no new secret gets
//     one; existing v1 secrets keep verifying until they are rotated away.
//   - v2, "v2:" and 64 lower-case hex characters: HMAC-SHA-256 of the
//     secret keyed by the pepper, a key held in the secret provider and
//     never in the ledger. An export alone confirms nothing.
//
// Both are fast on purpose: every secret is 256 bits drawn by the server,
// so there is no dictionary to slow down, and authentication stays cheap at
// thousands of grants per second. Never use either for human passwords.
const secretHashV2Prefix = "v2:"

// MinPepperBytes is the shortest pepper accepted: an HMAC-SHA-256 key of
// the hash's own strength.
const MinPepperBytes = 32

// Pepper keys v2 secret hashes. It never prints: fmt and slog see
// "[REDACTED]".
type Pepper struct{ key []byte }

// NewPepper copies key, which must hold at least MinPepperBytes.
func NewPepper(key []byte) (Pepper, error) {
	if len(key) < MinPepperBytes {
		return Pepper{}, ErrInvalidPepper
	}
	return Pepper{key: append([]byte(nil), key...)}, nil
}

// IsZero reports a pepper that was never set; it matches no v2 hash.
func (p Pepper) IsZero() bool { return len(p.key) == 0 }

// Hash is the v2 hash of secret: "v2:" + hex HMAC-SHA-256(pepper, secret).
// It is what new secrets are stored as. A zero pepper hashes to "".
func (p Pepper) Hash(secret string) string {
	if p.IsZero() {
		return ""
	}
	mac := hmac.New(sha256.New, p.key)
	mac.Write([]byte(secret))
	return secretHashV2Prefix + hex.EncodeToString(mac.Sum(nil))
}

func (Pepper) String() string               { return "[REDACTED]" }
func (Pepper) GoString() string             { return "[REDACTED]" }
func (Pepper) LogValue() slog.Value         { return slog.StringValue("[REDACTED]") }
func (p Pepper) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[REDACTED]")) }

// HashSecretV1 is the legacy v1 hash (unsalted SHA-256, lower-case hex).
// It exists to verify secrets registered before v2; Register and
// RotateSecret refuse it for new secrets.
func HashSecretV1(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func validHexDigest(h string) bool {
	if len(h) != 64 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil && strings.ToLower(h) == h
}

// validNewHash accepts the scheme new secrets are stored in: v2 only.
func validNewHash(h string) bool {
	rest, ok := strings.CutPrefix(h, secretHashV2Prefix)
	return ok && validHexDigest(rest)
}

// Secret is one stored secret credential.
type Secret struct {
	ID      string    `json:"secret_id"`
	Hash    string    `json:"-"`
	AddedAt time.Time `json:"added_at"`
	// Until ends the secret (a rotation window); zero means no end.
	Until   time.Time `json:"until,omitzero"`
	Revoked bool      `json:"revoked,omitempty"`
}

// LiveAt reports whether the secret is accepted at now.
func (s Secret) LiveAt(now time.Time) bool {
	return !s.Revoked && (s.Until.IsZero() || now.Before(s.Until))
}

// PublicKey is an Ed25519 public JWK (RFC 8037) registered for
// private_key_jwt. Only the public member x is ever held.
type PublicKey struct {
	KeyID string `json:"kid"`
	KTY   string `json:"kty"`
	CRV   string `json:"crv"`
	X     string `json:"x"`
	Alg   string `json:"alg,omitempty"`
	Use   string `json:"use,omitempty"`
}

// Ed25519 returns the key's bytes; it fails when the JWK is not a valid
// Ed25519 public key.
func (k PublicKey) Ed25519() (ed25519.PublicKey, error) {
	if k.KTY != "OKP" || k.CRV != "Ed25519" {
		return nil, fmt.Errorf("%w: want kty OKP, crv Ed25519", ErrInvalidJWK)
	}
	b, err := base64.RawURLEncoding.DecodeString(k.X)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: x is not a 32-byte base64url value", ErrInvalidJWK)
	}
	return ed25519.PublicKey(b), nil
}

// Thumbprint is the RFC 7638 JWK thumbprint (SHA-256, base64url), used as
// the kid when the JWK has none.
func (k PublicKey) Thumbprint() string {
	// RFC 7638 §3.2: required members only, lexicographic order, no spaces.
	canon := `{"crv":"` + k.CRV + `","kty":"` + k.KTY + `","x":"` + k.X + `"}`
	sum := sha256.Sum256([]byte(canon))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

type rawJWK struct {
	KTY string `json:"kty"`
	CRV string `json:"crv"`
	X   string `json:"x"`
	KID string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	// Private members of any key type; any of them refuses the key.
	D  *json.RawMessage `json:"d"`
	P  *json.RawMessage `json:"p"`
	Q  *json.RawMessage `json:"q"`
	DP *json.RawMessage `json:"dp"`
	DQ *json.RawMessage `json:"dq"`
	QI *json.RawMessage `json:"qi"`
	K  *json.RawMessage `json:"k"`
}

// MaxKeys bounds the keys of one client, so a JWK Set cannot bloat the
// event or make authentication scan a long list.
const MaxKeys = 8

// ParseJWKs accepts one public JWK or a JWK Set (RFC 7517 §5) and returns
// its Ed25519 public keys, each with a kid (the RFC 7638 thumbprint when
// absent). A private JWK is refused with ErrPrivateJWK rather than
// silently stripped: whoever holds the file should not be passing private
// material around.
func ParseJWKs(data []byte) ([]PublicKey, error) {
	var probe struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("%w: not JSON: %v", ErrInvalidJWK, err)
	}
	raws := probe.Keys
	if raws == nil {
		raws = []json.RawMessage{data}
	}
	if len(raws) == 0 {
		return nil, fmt.Errorf("%w: empty key set", ErrInvalidJWK)
	}
	if len(raws) > MaxKeys {
		return nil, fmt.Errorf("%w: at most %d keys", ErrTooManyKeys, MaxKeys)
	}
	out := make([]PublicKey, 0, len(raws))
	seen := map[string]bool{}
	for i, r := range raws {
		var j rawJWK
		if err := json.Unmarshal(r, &j); err != nil {
			return nil, fmt.Errorf("%w: key %d: %v", ErrInvalidJWK, i, err)
		}
		if j.D != nil || j.P != nil || j.Q != nil || j.DP != nil || j.DQ != nil || j.QI != nil || j.K != nil {
			return nil, fmt.Errorf("key %d: %w", i, ErrPrivateJWK)
		}
		k := PublicKey{KeyID: j.KID, KTY: j.KTY, CRV: j.CRV, X: j.X, Alg: j.Alg, Use: j.Use}
		if err := k.Validate(); err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		if k.KeyID == "" {
			k.KeyID = k.Thumbprint()
		}
		if seen[k.KeyID] {
			return nil, fmt.Errorf("%w: key %d: kid %q repeated", ErrDuplicateKey, i, k.KeyID)
		}
		seen[k.KeyID] = true
		out = append(out, k)
	}
	return out, nil
}

// Validate checks the JWK is a usable Ed25519 signature key.
func (k PublicKey) Validate() error {
	if _, err := k.Ed25519(); err != nil {
		return err
	}
	switch k.Alg {
	case "", "EdDSA", "Ed25519":
	default:
		return fmt.Errorf("%w: alg %q; want EdDSA or Ed25519", ErrInvalidJWK, k.Alg)
	}
	if k.Use != "" && k.Use != "sig" {
		return fmt.Errorf("%w: use %q; want sig", ErrInvalidJWK, k.Use)
	}
	if len(k.KeyID) > 128 || strings.ContainsAny(k.KeyID, "\n\r") {
		return fmt.Errorf("%w: kid too long or multi-line", ErrInvalidJWK)
	}
	return nil
}

// constantTimeHashMatch compares two hex hashes without leaking where they
// differ.
func constantTimeHashMatch(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
