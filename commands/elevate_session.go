package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/authledger/authledger/domain/refreshtoken"
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
	families *FamilyRepository
	cache    *FamilyCache
	live     SessionStore
	rules    TokenRules
}

// NewElevateSessionHandler builds the handler. The session's refresh
// family is elevated in the same append, so tokens refreshed afterwards
// carry the new acr and auth_time; cache is the refresh handler's family
// cache, whose entry is dropped after the step-up.
func NewElevateSessionHandler(sessions *SessionRepository, families *FamilyRepository, cache *FamilyCache, live SessionStore, rules TokenRules) *ElevateSessionHandler {
	return &ElevateSessionHandler{sessions: sessions, families: families, cache: cache, live: live, rules: rules}
}

// Handle records session.Elevated and rotates the token.
func (h *ElevateSessionHandler) Handle(ctx context.Context, cmd ElevateSession, meta Metadata) (_ ElevatedSession, err error) {
	ctx, end := startCommand(ctx, "ElevateSession")
	defer func() { end(err) }()
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
	var familyID refreshtoken.FamilyID
	c, err := h.sessions.Update(ctx, cmd.SessionID, meta, func(s *session.Session) ([]Changed, error) {
		if !s.Exists() || s.Info().ClientID != cmd.ClientID {
			// Another login service's session looks like no session at all.
			return nil, session.ErrNotFound
		}
		if err := s.ElevateWithToken(cmd.ACR, cmd.AMR, cmd.ClientID, hashToken(raw), now); err != nil {
			return nil, err
		}
		fam := s.Info().Family
		if fam == "" {
			return nil, nil
		}
		id, err := refreshtoken.ParseFamilyID(fam)
		if err != nil {
			return nil, err
		}
		f, err := h.families.Load(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := f.Elevate(s.Info().ACR, s.Info().AMR, s.Info().AuthTime, now); err != nil {
			if errors.Is(err, refreshtoken.ErrFamilyRevoked) {
				return nil, nil // its tokens are dead anyway
			}
			return nil, err
		}
		familyID = id
		return []Changed{Changes(f)}, nil
	})
	if err != nil {
		return ElevatedSession{}, fmt.Errorf("elevate session: %w", err)
	}
	if h.cache != nil && familyID != (refreshtoken.FamilyID{}) {
		h.cache.Drop(familyID)
	}
	info := c.Aggregate.Info()
	rec.ACR, rec.AMR, rec.AuthTime, rec.LastSeen, rec.TokenHash = info.ACR, info.AMR, info.AuthTime, now, hashToken(raw)
	if err := h.live.Save(ctx, rec, h.rules.sessionTTL(rec, now)); err != nil {
		return ElevatedSession{}, err
	}
	return ElevatedSession{SessionID: cmd.SessionID, SessionToken: raw, ACR: info.ACR}, nil
}
