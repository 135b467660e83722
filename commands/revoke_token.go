package commands

import (
	"context"
	"fmt"

	"authledger/domain/oauth"
	"authledger/domain/refreshtoken"
	"authledger/domain/token"
	"authledger/eventstore"
)

// RevokeToken is an RFC 7009 request from an authenticated client.
type RevokeToken struct {
	Token    string
	Hint     string // "access_token", "refresh_token" or empty
	ClientID string
}

// Revoke revokes a refresh token (its whole family, RFC 7009 §2.1) or an
// access token (until it expires). Unknown, malformed and expired tokens are
// not errors (§2.2: the server answers 200). A token issued to another
// client is refused with unauthorized_client and left alone.
func (s *TokenService) Revoke(ctx context.Context, r RevokeToken, meta Metadata) error {
	meta = meta.as(ClientActor(r.ClientID))
	if r.Hint == "access_token" {
		if done, err := s.revokeAccess(ctx, r, meta); done || err != nil {
			return err
		}
		_, err := s.revokeRefresh(ctx, r, meta)
		return err
	}
	if done, err := s.revokeRefresh(ctx, r, meta); done || err != nil {
		return err
	}
	_, err := s.revokeAccess(ctx, r, meta)
	return err
}

func (s *TokenService) revokeRefresh(ctx context.Context, r RevokeToken, meta Metadata) (bool, error) {
	cl, err := s.openRefresh(ctx, r.Token)
	if err != nil {
		return false, nil
	}
	now := s.clockNow()
	err = s.updateFamily(ctx, cl.Family, meta, func(f *refreshtoken.Family) error {
		if !f.Exists() {
			return nil
		}
		if f.Info().ClientID != r.ClientID {
			return oauth.ErrUnauthorizedClient.WithHint("the token was not issued to this client")
		}
		f.Revoke("revoked", now, now.Add(s.policy.Class(token.Access).Lifetime))
		return nil
	})
	return true, err
}

func (s *TokenService) revokeAccess(ctx context.Context, r RevokeToken, meta Metadata) (bool, error) {
	if s.cfg.Verifier == nil {
		return false, nil
	}
	c, err := s.cfg.Verifier.VerifySignature(ctx, r.Token)
	if err != nil {
		return false, nil
	}
	if c.ClientID != r.ClientID {
		return true, oauth.ErrUnauthorizedClient.WithHint("the token was not issued to this client")
	}
	now := s.clockNow()
	if !now.Before(c.ExpiresAt) || (s.cfg.Revocations != nil && s.cfg.Revocations.IsRevoked(c.JTI, "", "")) {
		return true, nil
	}
	evs, err := encodeTyped([]token.AccessTokenRevoked{{JTI: c.JTI, ClientID: c.ClientID, ExpiresAt: c.ExpiresAt, At: now}}, meta)
	if err != nil {
		return true, err
	}
	if _, err := s.cfg.Store.Append(ctx, eventstore.StreamAppend{Stream: token.Stream(c.JTI), Expected: eventstore.Any(), Events: evs}); err != nil {
		return true, fmt.Errorf("revoke access token: %w", err)
	}
	s.publish(ctx, "jti", c.JTI, c.ExpiresAt)
	return true, nil
}
