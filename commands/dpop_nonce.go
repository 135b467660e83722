package commands

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/authledger/authledger/secrets"
)

// DPoPNonceKeyName is the secret that keys DPoP server nonces.
const DPoPNonceKeyName = "dpop-nonce-key"

// DPoPNonceWindow is how long one nonce is handed out; a nonce is accepted
// in its window and the next, so a client's retry never meets a nonce
// that rotated under it.
const DPoPNonceWindow = time.Minute

// DPoPNonces makes and checks DPoP server nonces (RFC 9449 §8) without
// shared state: a nonce is its time window and an HMAC of it under a key
// every instance loads from the secret provider, so any instance accepts
// another's nonce.
type DPoPNonces struct {
	key []byte
	now func() time.Time
}

// LoadDPoPNonces loads the nonce key, generating it on first start like
// the secret pepper (version 1 wins a concurrent first start). now nil
// means time.Now; rnd nil means crypto/rand.
func LoadDPoPNonces(ctx context.Context, p secrets.Provider, now func() time.Time, rnd io.Reader) (*DPoPNonces, error) {
	if p == nil {
		return nil, errors.New("dpop nonces: no secret provider")
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	if now == nil {
		now = time.Now
	}
	load := func() (secrets.Secret, error) {
		sec, err := p.GetVersion(ctx, DPoPNonceKeyName, "1")
		if errors.Is(err, secrets.ErrNotFound) {
			sec, err = p.Get(ctx, DPoPNonceKeyName)
		}
		return sec, err
	}
	sec, err := load()
	if errors.Is(err, secrets.ErrNotFound) {
		k := make([]byte, 32)
		if _, err := io.ReadFull(rnd, k); err != nil {
			return nil, fmt.Errorf("dpop nonces: %w", err)
		}
		_, putErr := p.Put(ctx, DPoPNonceKeyName, k)
		clear(k)
		if putErr != nil {
			return nil, fmt.Errorf("dpop nonces: store key: %w", putErr)
		}
		sec, err = load()
	}
	if err != nil {
		return nil, fmt.Errorf("dpop nonces: %w", err)
	}
	if sec.Value.Len() < 32 {
		return nil, errors.New("dpop nonces: key shorter than 32 bytes")
	}
	return &DPoPNonces{key: append([]byte(nil), sec.Value.Bytes()...), now: now}, nil
}

func (n *DPoPNonces) at(window uint64) string {
	var w [8]byte
	binary.BigEndian.PutUint64(w[:], window)
	m := hmac.New(sha256.New, n.key)
	m.Write([]byte("authledger/dpop-nonce/v1\n"))
	m.Write(w[:])
	return base64.RawURLEncoding.EncodeToString(append(w[:], m.Sum(nil)[:16]...))
}

func (n *DPoPNonces) window() uint64 {
	return uint64(n.now().Unix()) / uint64(DPoPNonceWindow/time.Second)
}

// Current is the nonce to hand out now (DPoP-Nonce header).
func (n *DPoPNonces) Current() string { return n.at(n.window()) }

// Valid reports whether nonce is the current window's or the previous one's.
func (n *DPoPNonces) Valid(nonce string) bool {
	w := n.window()
	ok := hmac.Equal([]byte(nonce), []byte(n.at(w)))
	if w > 0 {
		ok = hmac.Equal([]byte(nonce), []byte(n.at(w-1))) || ok
	}
	return ok
}
