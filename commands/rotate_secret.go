package commands

import (
	"context"
	"log/slog"
	"time"

	"github.com/authledger/authledger/domain/client"
)

// RotateSecret issues a new secret; older secrets keep working for Window
// (default ServicesConfig.RotationWindow; Immediately ends them now).
type RotateSecret struct {
	ClientID    client.ID
	Window      time.Duration
	Immediately bool
}

// RotatedSecret carries the new secret, shown once.
type RotatedSecret struct {
	ServiceChange
	ClientSecret string
}

// LogValue keeps the secret out of logs.
func (r RotatedSecret) LogValue() slog.Value {
	return slog.GroupValue(slog.String("client_id", string(r.Client.ID)), slog.Uint64("position", r.Position))
}

// RotateSecret appends a secret rotation.
func (s *Services) RotateSecret(ctx context.Context, cmd RotateSecret, meta Metadata) (RotatedSecret, error) {
	secret, ns, err := s.newSecret()
	if err != nil {
		return RotatedSecret{}, err
	}
	window := cmd.Window
	if window == 0 {
		window = s.window
	}
	if cmd.Immediately {
		window = 0
	}
	ch, err := s.updateClient(ctx, cmd.ClientID, meta, func(c *client.Client, now time.Time) error {
		return c.RotateSecret(ns, window, now)
	})
	if err != nil {
		return RotatedSecret{}, err
	}
	return RotatedSecret{ServiceChange: ch, ClientSecret: secret}, nil
}
