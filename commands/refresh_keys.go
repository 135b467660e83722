package commands

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"

	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/secrets"
)

// RefreshSealingSecret is the secret holding the refresh-token sealing key;
// each version is one key, the newest seals new tokens.
const RefreshSealingSecret = "refresh-sealing-key"

// maxSealingVersions bounds how many old sealing keys are kept openable:
// refresh tokens live 14 days, rotations are rare.
const maxSealingVersions = 16

var plainVersion = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// legacySealingKeyID is the key id a secret version got inside tokens
// before key ids carried a fingerprint; such tokens still open.
func legacySealingKeyID(version string) string {
	if plainVersion.MatchString(version) {
		return "v" + version
	}
	h := sha256.Sum256([]byte(version))
	return "h" + hex.EncodeToString(h[:6])
}

// sealingKeyID is the key id a secret version gets inside tokens: the
// version and a fingerprint of the key (32 bits of a keyed hash, which
// tell nothing of the key). With the fingerprint, an instance whose
// provider holds other material under the same version (a fresh provider
// that generated its own "1") lacks the key id instead of silently
// failing to open the token, so the token answers 503, not invalid_grant.
func sealingKeyID(version string, key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("authledger refresh sealing key id"))
	return legacySealingKeyID(version) + "-" + hex.EncodeToString(m.Sum(nil)[:4])
}

// LoadRefreshCodec reads the sealing keys from the provider, generating the
// first one on first start (no secret is ever a default). Numbered versions
// (the local provider's "1", "2", …) are all loaded, newest active, so
// tokens sealed before a key rotation still open. rnd may be nil.
func LoadRefreshCodec(ctx context.Context, p secrets.Provider, rnd io.Reader) (*refreshtoken.Codec, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	newest, err := p.Get(ctx, RefreshSealingSecret)
	if errors.Is(err, secrets.ErrNotFound) {
		k := make([]byte, refreshtoken.KeyBytes)
		if _, err := io.ReadFull(rnd, k); err != nil {
			return nil, fmt.Errorf("refresh sealing key: %w", err)
		}
		if _, err := p.Put(ctx, RefreshSealingSecret, k); err != nil {
			return nil, fmt.Errorf("refresh sealing key: store: %w", err)
		}
		clear(k)
		// Read back rather than use k: if another instance generated one at
		// the same moment, both settle on the provider's newest.
		newest, err = p.Get(ctx, RefreshSealingSecret)
	}
	if err != nil {
		return nil, fmt.Errorf("refresh sealing key: %w", err)
	}
	keys := map[string][]byte{}
	add := func(sec secrets.Secret) {
		keys[sealingKeyID(sec.Version, sec.Value.Bytes())] = sec.Value.Bytes()
		keys[legacySealingKeyID(sec.Version)] = sec.Value.Bytes()
	}
	add(newest)
	if n, err := strconv.ParseUint(newest.Version, 10, 64); err == nil {
		for v := n - 1; v >= 1 && n-v < maxSealingVersions; v-- {
			old, err := p.GetVersion(ctx, RefreshSealingSecret, strconv.FormatUint(v, 10))
			if errors.Is(err, secrets.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("refresh sealing key v%d: %w", v, err)
			}
			add(old)
		}
	}
	return refreshtoken.NewCodec(sealingKeyID(newest.Version, newest.Value.Bytes()), keys)
}
