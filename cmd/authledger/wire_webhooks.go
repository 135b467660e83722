package main

import (
	"context"
	"log/slog"

	"authledger/api"
)

// redacted is a configuration secret: it prints and logs as a placeholder,
// so a Config dumped by mistake does not carry it.
type redacted string

func (r redacted) String() string {
	if r == "" {
		return ""
	}
	return "[redacted]"
}
func (r redacted) GoString() string             { return r.String() }
func (r redacted) LogValue() slog.Value         { return slog.StringValue(r.String()) }
func (r redacted) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// wireWebhooks routes POST /v1/webhooks/infisical always (DESIGN.md §5).
// Without AUTHLEDGER_INFISICAL_WEBHOOK_SECRET it refuses every call; with
// it, a correctly signed delivery gets 202 and nothing more yet: acting on
// Infisical's events is a later issue.
func wireWebhooks(_ context.Context, a *app) error {
	if a.cfg.InfisicalWebhookSecret == "" {
		a.log.Info("infisical webhook disabled: AUTHLEDGER_INFISICAL_WEBHOOK_SECRET is not set")
	}
	a.routes = append(a.routes, api.InfisicalWebhook{Secret: []byte(a.cfg.InfisicalWebhookSecret)})
	return nil
}
