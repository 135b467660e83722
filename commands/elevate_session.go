package commands

import (
	"context"
	"fmt"

	"authledger/domain/session"
	"authledger/domain/token"
	"authledger/eventstore"
)

// ElevateSession is a step-up: after re-authenticating the subject, the
// login service that started the session raises its acr. The session token
// rotates (the old cookie stops working at once), so a token captured
// before the step-up never carries the higher assurance.
type ElevateSession struct {
	SessionID string
	ClientID  string
	ACR       string
	AMR       []string
}

// ElevatedSession is the new cookie value and the raised assurance.
type ElevatedSession struct {
	SessionID    string
	SessionToken string
	ACR          string
}

// ElevateSession records session.Elevated and rotates the token.
func (s *TokenService) ElevateSession(ctx context.Context, cmd ElevateSession, meta Metadata) (ElevatedSession, error) {
	if s.cfg.Sessions == nil {
		return ElevatedSession{}, ErrSessionsUnavailable
	}
	meta = meta.as(ClientActor(cmd.ClientID))
	rec, err := s.cfg.Sessions.Get(ctx, cmd.SessionID)
	if err != nil {
		return ElevatedSession{}, err
	}
	now := s.clockNow()
	c := s.policy.Class(token.Session)
	if err := session.CheckExpiry(rec.CreatedAt, rec.LastSeen, now, c.IdleTimeout, c.Lifetime); err != nil {
		return ElevatedSession{}, err
	}
	sess, err := s.loadSession(ctx, cmd.SessionID)
	if err != nil {
		return ElevatedSession{}, err
	}
	if !sess.Exists() || sess.Info().ClientID != cmd.ClientID {
		// Another login service's session looks like no session at all.
		return ElevatedSession{}, session.ErrNotFound
	}
	if err := sess.Elevate(cmd.ACR, cmd.AMR, cmd.ClientID, now); err != nil {
		return ElevatedSession{}, err
	}
	raw, err := s.newSessionToken()
	if err != nil {
		return ElevatedSession{}, err
	}
	evs, err := encodeTyped(sess.Pending(), meta)
	if err != nil {
		return ElevatedSession{}, err
	}
	if _, err := s.cfg.Store.Append(ctx, eventstore.StreamAppend{Stream: session.Stream(cmd.SessionID), Expected: eventstore.Exact(sess.Version()), Events: evs}); err != nil {
		return ElevatedSession{}, fmt.Errorf("elevate session: %w", err)
	}
	info := sess.Info()
	rec.ACR, rec.AMR, rec.AuthTime, rec.LastSeen, rec.TokenHash = info.ACR, info.AMR, info.AuthTime, now, hashToken(raw)
	if err := s.cfg.Sessions.Save(ctx, rec, s.sessionTTL(rec, now)); err != nil {
		return ElevatedSession{}, err
	}
	return ElevatedSession{SessionID: cmd.SessionID, SessionToken: raw, ACR: info.ACR}, nil
}
