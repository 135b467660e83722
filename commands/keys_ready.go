package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/authledger/authledger/domain/keyring"
	"github.com/authledger/authledger/secrets"
)

// ErrSigningKeyUnreadable is matched by the error CheckSigningKeys returns
// when a key the ring signs with now or soon is missing from the secret
// provider or holds other material.
var ErrSigningKeyUnreadable = errors.New("commands: signing key unreadable from the secret provider")

// CheckSigningKeys reads the private half of every key the ring needs —
// the active key, which signs now, and the published next key, which will
// — from the provider, and reports each one it cannot use by kid. It is a
// readiness check: an instance whose provider lacks them answers every
// token request with an error, so it must not take traffic.
func CheckSigningKeys(ctx context.Context, p secrets.Provider, keys []keyring.Key) error {
	var errs []error
	for _, k := range keys {
		if k.State != keyring.StateActive && k.State != keyring.StatePublished {
			continue
		}
		priv, err := loadPrivateKey(ctx, p, k)
		clear(priv)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: %s (secret %s version %s): %w", ErrSigningKeyUnreadable, k.KID, k.Secret.Name, k.Secret.Version, err))
		}
	}
	return errors.Join(errs...)
}
