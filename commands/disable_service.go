package commands

import (
	"context"
	"time"

	"authledger/domain/client"
)

// DisableService stops every credential of a client for good.
type DisableService struct {
	ClientID client.ID
	Reason   string
}

// Disable appends a Disabled event (a no-op if already disabled).
func (s *Services) Disable(ctx context.Context, cmd DisableService, meta Metadata) (ServiceChange, error) {
	return s.updateClient(ctx, cmd.ClientID, meta, func(c *client.Client, now time.Time) error {
		return c.Disable(cmd.Reason, now)
	})
}

// ChangeServiceGrants replaces scopes and/or audiences (nil leaves a list
// unchanged).
type ChangeServiceGrants struct {
	ClientID  client.ID
	Scopes    []string
	Audiences []string
}

// ChangeGrants appends ScopesChanged and/or AudiencesChanged.
func (s *Services) ChangeGrants(ctx context.Context, cmd ChangeServiceGrants, meta Metadata) (ServiceChange, error) {
	return s.updateClient(ctx, cmd.ClientID, meta, func(c *client.Client, now time.Time) error {
		if cmd.Scopes != nil {
			if err := c.ChangeScopes(cmd.Scopes, now); err != nil {
				return err
			}
		}
		if cmd.Audiences != nil {
			return c.ChangeAudiences(cmd.Audiences, now)
		}
		return nil
	})
}
