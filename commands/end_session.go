package commands

import (
	"context"
	"errors"
	"fmt"

	"authledger/domain/refreshtoken"
	"authledger/domain/session"
	"authledger/domain/token"
	"authledger/eventstore"
)

// EndSession is DELETE /v1/sessions/{id}. Subject is the caller; a session
// of another subject answers session.ErrNotFound.
type EndSession struct {
	SessionID string
	Subject   string
	Reason    string // default "logout"
}

// EndSession records session.Ended and revokes the session's refresh family
// in one append; the revocation feed then denies its access tokens (sid).
// The session store must answer first, so a 503 never hides a half-ended
// session.
func (s *TokenService) EndSession(ctx context.Context, cmd EndSession, meta Metadata) error {
	if s.cfg.Sessions == nil {
		return ErrSessionsUnavailable
	}
	if err := s.cfg.Sessions.Ping(ctx); err != nil {
		return err
	}
	if cmd.Reason == "" {
		cmd.Reason = "logout"
	}
	meta = meta.as(SubjectActor(cmd.Subject))
	for attempt := 0; ; attempt++ {
		err := s.endOnce(ctx, cmd, meta)
		if errors.Is(err, eventstore.ErrWrongExpectedVersion) && attempt+1 < maxConflictRetries {
			continue
		}
		if err != nil {
			return err
		}
		return s.cfg.Sessions.Delete(ctx, cmd.SessionID)
	}
}

func (s *TokenService) endOnce(ctx context.Context, cmd EndSession, meta Metadata) error {
	sess, err := s.loadSession(ctx, cmd.SessionID)
	if err != nil {
		return err
	}
	if !sess.Exists() || sess.Info().Subject != cmd.Subject {
		return session.ErrNotFound
	}
	now := s.clockNow()
	accessUntil := now.Add(s.policy.Class(token.Access).Lifetime)
	ended, err := sess.End(cmd.Reason, meta.Actor, now, accessUntil)
	if err != nil || !ended {
		return err
	}
	evs, err := encodeTyped(sess.Pending(), meta)
	if err != nil {
		return err
	}
	appends := []eventstore.StreamAppend{{Stream: session.Stream(cmd.SessionID), Expected: eventstore.Exact(sess.Version()), Events: evs}}
	var fid refreshtoken.FamilyID
	if famStr := sess.Info().Family; famStr != "" {
		fid, err = refreshtoken.ParseFamilyID(famStr)
		if err != nil {
			return fmt.Errorf("end session: %w", err)
		}
		f, err := s.loadFamily(ctx, fid)
		if err != nil {
			return err
		}
		if f.Revoke("session_ended", now, accessUntil) {
			fevs, err := encodeTyped(f.Pending(), meta)
			if err != nil {
				return err
			}
			appends = append(appends, eventstore.StreamAppend{Stream: fid.Stream(), Expected: eventstore.Exact(f.Version()), Events: fevs})
		}
	}
	if _, err := s.cfg.Store.Append(ctx, appends...); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	s.publish(ctx, "sid", cmd.SessionID, accessUntil)
	if len(appends) > 1 {
		// The family changed behind the refresh cache's back: without this
		// the next refresh here would sign a token and append its issuance
		// before the stale expected version sent it back to the ledger.
		s.families.drop(fid)
		s.publish(ctx, "family", sess.Info().Family, accessUntil)
	}
	return nil
}
