package main

import (
	"context"
	"log/slog"
	"time"

	cmds "github.com/authledger/authledger/commands"
)

// sealingKeyReloadEvery is how soon a sealing-key rotation made on another
// instance (or by the CLI) seals this instance's new tokens. The reads are
// the provider's cached ones, so the period costs Infisical little.
const sealingKeyReloadEvery = time.Minute

// sealingKeyReload re-reads the sealing keys on a period. A failure keeps
// the keys in use (the provider may be down: tokens keep flowing) and is
// logged, never a failed task.
func sealingKeyReload(log *slog.Logger, sealer *cmds.RefreshSealer) func(context.Context) error {
	return func(ctx context.Context) error {
		t := time.NewTicker(sealingKeyReloadEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				before := sealer.ActiveKeyID()
				if err := sealer.Reload(ctx); err != nil && ctx.Err() == nil {
					log.Warn("refresh sealing keys: reload failed; sealing with the keys in use", "err", err)
				} else if after := sealer.ActiveKeyID(); after != before {
					log.Info("refresh sealing keys: new tokens are sealed with a rotated key", "key_id", after)
				}
			}
		}
	}
}
