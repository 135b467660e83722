package commands

import (
	"context"
	"time"

	"github.com/authledger/authledger/domain/client"
)

// DisableService stops every credential of a client for good.
type DisableService struct {
	ClientID client.ID
	Reason   string
}

// Disable appends a Disabled event (a no-op if already disabled). The
// event revokes every token naming the client until access_until; once it
// is in the ledger the revocation is announced (best effort: the feed
// delivers the event anyway).
func (s *Services) Disable(ctx context.Context, cmd DisableService, meta Metadata) (ServiceChange, error) {
	var disabled *client.Disabled
	ch, err := s.updateClient(ctx, cmd.ClientID, meta, func(c *client.Client, now time.Time) error {
		disabled = nil // a retry after a conflict decides afresh
		if err := c.Disable(cmd.Reason, now); err != nil {
			return err
		}
		for _, e := range c.Pending() {
			if d, ok := e.(client.Disabled); ok {
				disabled = &d
			}
		}
		return nil
	})
	if err == nil && disabled != nil && s.publish != nil {
		_ = s.publish.PublishRevocation(context.WithoutCancel(ctx), "client", string(cmd.ClientID), disabled.Until())
	}
	return ch, err
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
