package commands

import (
	"context"
	"time"

	"github.com/authledger/authledger/domain/client"
)

// AddServiceKeys registers public Ed25519 JWKs for private_key_jwt.
type AddServiceKeys struct {
	ClientID client.ID
	Keys     []client.PublicKey
}

// AddKeys appends one KeyAdded per key, all or nothing.
func (s *Services) AddKeys(ctx context.Context, cmd AddServiceKeys, meta Metadata) (ServiceChange, error) {
	return s.updateClient(ctx, cmd.ClientID, meta, func(c *client.Client, now time.Time) error {
		for _, k := range cmd.Keys {
			if err := c.AddKey(k, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// RemoveServiceKey withdraws one public key.
type RemoveServiceKey struct {
	ClientID client.ID
	KeyID    string
}

// RemoveKey appends a KeyRemoved.
func (s *Services) RemoveKey(ctx context.Context, cmd RemoveServiceKey, meta Metadata) (ServiceChange, error) {
	return s.updateClient(ctx, cmd.ClientID, meta, func(c *client.Client, now time.Time) error {
		return c.RemoveKey(cmd.KeyID, now)
	})
}
