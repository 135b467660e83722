// Package dpop is the client half of DPoP (RFC 9449): a key the client
// holds and the proof JWTs it signs with it, one per request. Resource
// servers check proofs with client/verifier; this package only makes them.
package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// ProofType is the typ of a proof (RFC 9449 §4.2).
const ProofType = "dpop+jwt"

// Key is a DPoP key pair. It is safe for concurrent use.
type Key struct {
	signer jose.Signer
	jkt    string
	alg    jose.SignatureAlgorithm
}

// NewKey generates a fresh Ed25519 key (EdDSA proofs).
func NewKey() (*Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return FromPrivateKey(priv)
}

// FromPrivateKey wraps an ed25519.PrivateKey (EdDSA) or a P-256
// *ecdsa.PrivateKey (ES256).
func FromPrivateKey(priv crypto.Signer) (*Key, error) {
	var alg jose.SignatureAlgorithm
	switch k := priv.(type) {
	case ed25519.PrivateKey:
		alg = jose.EdDSA
	case *ecdsa.PrivateKey:
		if k.Curve.Params().Name != "P-256" {
			return nil, errors.New("dpop: ECDSA keys must be P-256 (ES256)")
		}
		alg = jose.ES256
	default:
		return nil, fmt.Errorf("dpop: unsupported key type %T", priv)
	}
	pub := jose.JSONWebKey{Key: priv.Public()}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	// EmbedJWK puts the public key in the jwk header (RFC 9449 §4.2).
	opts := (&jose.SignerOptions{EmbedJWK: true}).WithType(ProofType)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: priv}, opts)
	if err != nil {
		return nil, err
	}
	return &Key{signer: s, jkt: base64.RawURLEncoding.EncodeToString(tp), alg: alg}, nil
}

// Thumbprint is the key's RFC 7638 SHA-256 thumbprint, base64url: what a
// token bound to it carries in cnf.jkt, and dpop_jkt.
func (k *Key) Thumbprint() string { return k.jkt }

// Alg is the proofs' JWS algorithm.
func (k *Key) Alg() string { return string(k.alg) }

// ProofOptions are a proof's optional claims.
type ProofOptions struct {
	// AccessToken, when the request carries one, is hashed into ath.
	AccessToken string
	// Nonce is the server's last DPoP-Nonce, if it asked for one.
	Nonce string
	// Now is iat; zero means time.Now.
	Now time.Time
}

type claims struct {
	JTI   string           `json:"jti"`
	HTM   string           `json:"htm"`
	HTU   string           `json:"htu"`
	IAT   *jwt.NumericDate `json:"iat"`
	ATH   string           `json:"ath,omitempty"`
	Nonce string           `json:"nonce,omitempty"`
}

// Proof signs a proof for one request: method and uri (its query and
// fragment are dropped, RFC 9449 §4.2), a fresh random jti.
func (k *Key) Proof(method, uri string, o ProofOptions) (string, error) {
	u, err := url.Parse(uri)
	if err != nil || !u.IsAbs() {
		return "", fmt.Errorf("dpop: htu %q is not an absolute URI", uri)
	}
	u.RawQuery, u.Fragment, u.RawFragment, u.ForceQuery = "", "", "", false
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	c := claims{JTI: base64.RawURLEncoding.EncodeToString(jti), HTM: method, HTU: u.String(), IAT: jwt.NewNumericDate(now), Nonce: o.Nonce}
	if o.AccessToken != "" {
		h := sha256.Sum256([]byte(o.AccessToken))
		c.ATH = base64.RawURLEncoding.EncodeToString(h[:])
	}
	return jwt.Signed(k.signer).Claims(c).Serialize()
}
