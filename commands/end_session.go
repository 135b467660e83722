package commands

import (
	"context"
	"fmt"

	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/domain/session"
)

// EndSession is DELETE /v1/sessions/{id}. Subject is the caller; a session
// of another subject answers session.ErrNotFound.
type EndSession struct {
	SessionID string
	Subject   string
	Reason    string // default "logout"
}

// EndSessionHandler ends a session and revokes its refresh family.
type EndSessionHandler struct {
	sessions *SessionRepository
	families *FamilyRepository
	cache    *FamilyCache
	live     SessionWriter
	rules    TokenRules
	notice   revocationNotice
}

// NewEndSessionHandler builds the handler; cache is the instance's family
// cache, which must forget a family this handler revokes.
func NewEndSessionHandler(sessions *SessionRepository, families *FamilyRepository, cache *FamilyCache, live SessionWriter, rules TokenRules, publisher RevocationPublisher) *EndSessionHandler {
	return &EndSessionHandler{sessions: sessions, families: families, cache: cache, live: live, rules: rules,
		notice: revocationNotice{publisher: publisher, live: live}}
}

// Handle records session.Ended and the family's revocation in one append
// (session.EndWithFamily); the revocation feed then denies its access
// tokens (sid). The session store must answer first, so a 503 never hides
// a half-ended session.
func (h *EndSessionHandler) Handle(ctx context.Context, cmd EndSession, meta Metadata) (err error) {
	ctx, end := startCommand(ctx, "EndSession")
	defer func() { end(err) }()
	if err := h.live.Ping(ctx); err != nil {
		return err
	}
	if cmd.Reason == "" {
		cmd.Reason = "logout"
	}
	meta = meta.as(SubjectActor(cmd.Subject))
	now := h.rules.Now()
	accessUntil := h.rules.accessUntil(now)
	var fam *refreshtoken.Family
	c, err := h.sessions.Update(ctx, cmd.SessionID, meta, func(s *session.Session) ([]Changed, error) {
		if !s.Exists() || s.Info().Subject != cmd.Subject {
			return nil, session.ErrNotFound
		}
		fam = nil
		if famStr := s.Info().Family; famStr != "" && !s.Ended() {
			fid, err := refreshtoken.ParseFamilyID(famStr)
			if err != nil {
				return nil, fmt.Errorf("end session: %w", err)
			}
			if fam, err = h.families.Load(ctx, fid); err != nil {
				return nil, err
			}
		}
		if _, err := session.EndWithFamily(s, fam, cmd.Reason, meta.Actor, now, accessUntil); err != nil {
			return nil, err
		}
		if fam == nil {
			return nil, nil
		}
		return []Changed{Changes(fam)}, nil
	})
	if err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	if len(c.Aggregate.Pending()) > 0 {
		h.notice.publish(ctx, "sid", cmd.SessionID, accessUntil)
		if fam != nil && len(fam.Pending()) > 0 {
			// The family changed behind the refresh cache's back: without
			// this the next refresh here would sign a token and append its
			// issuance before the stale expected version sent it back.
			h.cache.Drop(fam.ID())
			h.notice.publish(ctx, "family", fam.ID().String(), accessUntil)
		}
	}
	return h.live.Delete(ctx, cmd.SessionID)
}
