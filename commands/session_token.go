package commands

import (
	"context"
	"errors"
	"fmt"

	"authledger/domain/session"
	"authledger/domain/token"
)

// ResolveSession returns the live session of a session cookie value and
// records the touch (idle timeout) in the session store only; touches are
// not ledger events. Expired sessions are removed and answer
// session.ErrExpired.
func (s *TokenService) ResolveSession(ctx context.Context, rawToken string) (session.Record, error) {
	if s.cfg.Sessions == nil {
		return session.Record{}, ErrSessionsUnavailable
	}
	if rawToken == "" || len(rawToken) > 128 {
		return session.Record{}, session.ErrNotFound
	}
	rec, err := s.cfg.Sessions.Lookup(ctx, hashToken(rawToken))
	if err != nil {
		return session.Record{}, err
	}
	now := s.clockNow()
	c := s.policy.Class(token.Session)
	if err := session.CheckExpiry(rec.CreatedAt, rec.LastSeen, now, c.IdleTimeout, c.Lifetime); err != nil {
		_ = s.cfg.Sessions.Delete(ctx, rec.ID)
		return session.Record{}, err
	}
	if s.cfg.Revocations != nil && s.cfg.Revocations.IsRevoked("", rec.ID, "") {
		return session.Record{}, session.ErrEnded
	}
	rec.LastSeen = now
	if err := s.cfg.Sessions.Touch(ctx, rec, now, s.sessionTTL(rec, now)); err != nil {
		return session.Record{}, err
	}
	return rec, nil
}

// SessionAccessToken is POST /v1/session/token: a live session cookie buys
// a 10-minute access JWT carrying the session's sid, acr and amr.
func (s *TokenService) SessionAccessToken(ctx context.Context, rawToken string, meta Metadata) (TokenPair, error) {
	rec, err := s.ResolveSession(ctx, rawToken)
	if err != nil {
		return TokenPair{}, err
	}
	at, err := s.cfg.Signer.Sign(ctx, token.Claims{
		Class: token.Access, Subject: rec.Subject, ClientID: rec.ClientID, Audience: s.accessAudience(),
		SessionID: rec.ID, AuthTime: rec.AuthTime, ACR: rec.ACR, AMR: rec.AMR,
	}, meta.as(SubjectActor(rec.Subject)))
	if err != nil {
		return TokenPair{}, fmt.Errorf("session token: %w", err)
	}
	return TokenPair{AccessToken: at.Raw, ExpiresIn: int64(at.ExpiresAt.Sub(at.IssuedAt).Seconds())}, nil
}

// ListSessions returns subject's live sessions.
func (s *TokenService) ListSessions(ctx context.Context, subject string) ([]session.Record, error) {
	if s.cfg.Sessions == nil {
		return nil, ErrSessionsUnavailable
	}
	recs, err := s.cfg.Sessions.ListBySubject(ctx, subject)
	if err != nil {
		return nil, err
	}
	now := s.clockNow()
	c := s.policy.Class(token.Session)
	out := recs[:0]
	for _, r := range recs {
		if r.Subject != subject {
			continue
		}
		if err := session.CheckExpiry(r.CreatedAt, r.LastSeen, now, c.IdleTimeout, c.Lifetime); errors.Is(err, session.ErrExpired) {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}
