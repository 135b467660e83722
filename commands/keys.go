package commands

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/authledger/authledger/domain/keyring"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/secrets"
)

// KeysConfig configures the key ring commands.
type KeysConfig struct {
	Store   eventstore.Store
	Secrets secrets.Provider
	// Policy times rotation; zero fields take keyring defaults.
	Policy keyring.Policy
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the key-generation entropy; nil means crypto/rand.
	Rand io.Reader
	// Notify, if set, runs after every successful append with the ring's
	// new stream version: a Redis invalidation so other instances reload
	// before their feed delivers. Best effort; its error is ignored.
	Notify func(ctx context.Context, version uint64) error
}

// Keys runs the key ring commands: rotate, revoke, and the scheduler's
// tick. Every decision is appended at the keyring stream's expected version,
// so racing instances produce exactly one outcome.
type Keys struct {
	ring    *KeyringRepository
	secrets secrets.Provider
	policy  keyring.Policy
	now     func() time.Time
	rand    io.Reader
	notify  func(ctx context.Context, version uint64) error
}

// NewKeys checks the configuration.
func NewKeys(cfg KeysConfig) (*Keys, error) {
	p := cfg.Policy.WithDefaults()
	var errs []error
	if cfg.Store == nil {
		errs = append(errs, errors.New("keys: Store is required"))
	}
	if cfg.Secrets == nil {
		errs = append(errs, errors.New("keys: Secrets is required"))
	}
	errs = append(errs, p.Validate())
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	k := &Keys{ring: Keyring(cfg.Store), secrets: cfg.Secrets, policy: p, now: cfg.Now, rand: cfg.Rand, notify: cfg.Notify}
	if k.now == nil {
		k.now = time.Now
	}
	if k.rand == nil {
		k.rand = rand.Reader
	}
	return k, nil
}

// Policy returns the effective policy (defaults filled).
func (k *Keys) Policy() keyring.Policy { return k.policy }

// Load rebuilds the key ring from the ledger.
func (k *Keys) Load(ctx context.Context) (*keyring.Ring, error) {
	return k.ring.Load(ctx, struct{}{})
}

// LoadRing rebuilds the key ring from the keyring stream.
func LoadRing(ctx context.Context, store eventstore.Store) (*keyring.Ring, error) {
	return Keyring(store).Load(ctx, struct{}{})
}

// SigningKeySecretName is where a key's private seed lives in the provider.
func SigningKeySecretName(kid string) string { return "signing-key/" + kid }

// generate makes an Ed25519 key, stores its seed in the provider and
// returns what the ledger may record. The kid is the RFC 7638 thumbprint.
func (k *Keys) generate(ctx context.Context) (keyring.NewKey, error) {
	pub, priv, err := ed25519.GenerateKey(k.rand)
	if err != nil {
		return keyring.NewKey{}, fmt.Errorf("generate key: %w", err)
	}
	jwk := PublicJWK(pub)
	name := SigningKeySecretName(jwk.Kid)
	version, err := k.secrets.Put(ctx, name, priv.Seed())
	if err != nil {
		return keyring.NewKey{}, fmt.Errorf("store signing key: %w", err)
	}
	return keyring.NewKey{JWK: jwk, Secret: keyring.SecretRef{Name: name, Version: version}}, nil
}

// discard removes a generated key that lost a race and never reached the
// ledger. Best effort: an orphan secret is harmless, only untidy.
func (k *Keys) discard(ctx context.Context, nk keyring.NewKey) {
	_ = k.secrets.Delete(context.WithoutCancel(ctx), nk.Secret.Name)
}

// shred deletes the private keys of keys that just left the JWKS (dropped
// at the end of their tail, or revoked): nothing will ever sign with them
// again, and a private key that no longer exists cannot leak. Best effort:
// a failure leaves an unused secret behind, never a broken ring.
func (k *Keys) shred(ctx context.Context, r *keyring.Ring) {
	for _, e := range r.Pending() {
		var kid string
		switch e := e.(type) {
		case keyring.KeyDropped:
			kid = e.KID
		case keyring.KeyRevoked:
			kid = e.KID
		default:
			continue
		}
		if key, ok := r.Key(kid); ok && key.Secret.Name != "" {
			_ = k.secrets.Delete(context.WithoutCancel(ctx), key.Secret.Name)
		}
	}
}

// PublicJWK is the RFC 8037 JWK of pub with its RFC 7638 thumbprint as kid.
func PublicJWK(pub ed25519.PublicKey) keyring.PublicJWK {
	x := base64.RawURLEncoding.EncodeToString(pub)
	sum := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + x + `"}`))
	return keyring.PublicJWK{Kty: "OKP", Crv: "Ed25519", X: x, Kid: base64.RawURLEncoding.EncodeToString(sum[:]), Use: "sig", Alg: "EdDSA"}
}

// decide loads the ring, lets fn decide, and appends; on a version conflict
// Repository.Update reloads and asks fn again, because another instance's
// decision may have made this one unnecessary. fn reports the new key it
// generated (if any) so a key that lost the race, or whose decision failed,
// is discarded.
func (k *Keys) decide(ctx context.Context, meta Metadata, fn func(r *keyring.Ring, now time.Time) (*keyring.NewKey, error)) (*keyring.Ring, error) {
	var nk *keyring.NewKey
	var decideErr error
	c, err := k.ring.Update(ctx, struct{}{}, meta, func(r *keyring.Ring) ([]Changed, error) {
		if nk != nil {
			k.discard(ctx, *nk) // the previous attempt lost the race
		}
		nk, decideErr = fn(r, k.now())
		return nil, decideErr
	})
	switch {
	case err == nil:
	case nk != nil:
		k.discard(ctx, *nk)
		fallthrough
	default:
		if decideErr != nil {
			return nil, decideErr
		}
		if errors.Is(err, ErrKeptConflicting) {
			return nil, fmt.Errorf("key ring kept changing: %w", err)
		}
		return nil, fmt.Errorf("append key ring: %w", err)
	}
	r := c.Aggregate
	if len(r.Pending()) > 0 {
		if k.notify != nil {
			_ = k.notify(ctx, r.Version()+uint64(len(r.Pending())))
		}
		k.shred(ctx, r)
	}
	return r, nil
}
