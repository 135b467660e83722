package commands

import (
	"context"
	"fmt"

	"github.com/authledger/authledger/domain/session"
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

// ElevateSessionHandler records a step-up.
type ElevateSessionHandler struct {
	sessions *SessionRepository
	live     SessionStore
	rules    TokenRules
}

// NewElevateSessionHandler builds the handler.
func NewElevateSessionHandler(sessions *SessionRepository, live SessionStore, rules TokenRules) *ElevateSessionHandler {
	return &ElevateSessionHandler{sessions: sessions, live: live, rules: rules}
}

// Handle records session.Elevated and rotates the token.
func (h *ElevateSessionHandler) Handle(ctx context.Context, cmd ElevateSession, meta Metadata) (ElevatedSession, error) {
	meta = meta.as(ClientActor(cmd.ClientID))
	rec, err := h.live.Get(ctx, cmd.SessionID)
	if err != nil {
		return ElevatedSession{}, err
	}
	now := h.rules.Now()
	if err := h.rules.checkSessionExpiry(rec, now); err != nil {
		return ElevatedSession{}, err
	}
	raw, err := h.rules.newSessionToken()
	if err != nil {
		return ElevatedSession{}, err
	}
	c, err := h.sessions.Update(ctx, cmd.SessionID, meta, func(s *session.Session) ([]Changed, error) {
		if !s.Exists() || s.Info().ClientID != cmd.ClientID {
			// Another login service's session looks like no session at all.
			return nil, session.ErrNotFound
		}
		return nil, s.ElevateWithToken(cmd.ACR, cmd.AMR, cmd.ClientID, hashToken(raw), now)
	})
	if err != nil {
		return ElevatedSession{}, fmt.Errorf("elevate session: %w", err)
	}
	info := c.Aggregate.Info()
	rec.ACR, rec.AMR, rec.AuthTime, rec.LastSeen, rec.TokenHash = info.ACR, info.AMR, info.AuthTime, now, hashToken(raw)
	if err := h.live.Save(ctx, rec, h.rules.sessionTTL(rec, now)); err != nil {
		return ElevatedSession{}, err
	}
	return ElevatedSession{SessionID: cmd.SessionID, SessionToken: raw, ACR: info.ACR}, nil
}
