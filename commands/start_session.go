package commands

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"authledger/domain/refreshtoken"
	"authledger/domain/session"
	"authledger/domain/token"
	"authledger/eventstore"
)

// StartSession is POST /v1/sessions: a login service (ClientID, holding
// scope sessions:create) starts a session for a subject it authenticated.
type StartSession struct {
	ClientID string
	Subject  string
	AMR      []string
	ACR      string
}

// StartedSession is the answer of DESIGN.md §5. SessionToken is the cookie
// value; it exists only here and (hashed) in the session store.
type StartedSession struct {
	SessionID    string
	SessionToken string
	TokenPair
	ExpiresAt time.Time // absolute expiry
}

// sessionTokenBytes is the session token's entropy (DESIGN.md §4: 256 bits).
const sessionTokenBytes = 32

func (s *TokenService) newSessionToken() (string, error) {
	b, err := s.randomBytes(sessionTokenBytes)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// sessionTTL is how long the store may keep a record last touched at
// lastSeen: the idle timeout, cut at the absolute expiry.
func (s *TokenService) sessionTTL(rec session.Record, now time.Time) time.Duration {
	c := s.policy.Class(token.Session)
	ttl := c.IdleTimeout
	if left := rec.CreatedAt.Add(c.Lifetime).Sub(now); left < ttl {
		ttl = left
	}
	if ttl < time.Second {
		ttl = time.Second
	}
	return ttl
}

// StartSession records the session and its refresh family in one append,
// stores the session under its token hash, and issues the three tokens.
// With the session store down it fails with session.ErrUnavailable before
// anything is appended.
func (s *TokenService) StartSession(ctx context.Context, cmd StartSession, meta Metadata) (StartedSession, error) {
	if s.cfg.Sessions == nil {
		return StartedSession{}, ErrSessionsUnavailable
	}
	meta = meta.as(ClientActor(cmd.ClientID))
	now := s.clockNow()
	sc := s.policy.Class(token.Session)
	sid := uuid.NewString()
	raw, err := s.newSessionToken()
	if err != nil {
		return StartedSession{}, err
	}
	var fam refreshtoken.FamilyID
	b, err := s.randomBytes(len(fam))
	if err != nil {
		return StartedSession{}, err
	}
	copy(fam[:], b)
	tid, err := s.newTokenID()
	if err != nil {
		return StartedSession{}, err
	}
	authAt := now.Truncate(time.Second)
	sessEv := session.Started{ID: sid, Subject: cmd.Subject, ClientID: cmd.ClientID, ACR: cmd.ACR, AMR: cmd.AMR,
		AuthTime: authAt, Family: fam.String(), ExpiresAt: now.Add(sc.Lifetime), At: now}
	sess := session.Load(sid, nil)
	if err := sess.Start(sessEv); err != nil {
		return StartedSession{}, err
	}
	// The family dies with the session (docs/refresh-tokens.md): its bound
	// is the session's absolute expiry, the refresh lifetime at most.
	rtLifetime := s.policy.Class(token.Refresh).Lifetime
	notAfter := refreshtoken.AbsoluteBound(now, rtLifetime, sessEv.ExpiresAt)
	rtExp := now.Add(rtLifetime).Truncate(time.Second)
	if rtExp.After(notAfter) {
		rtExp = notAfter
	}
	famEv := refreshtoken.Started{Family: fam, ClientID: cmd.ClientID, Subject: cmd.Subject, SessionID: sid,
		ACR: cmd.ACR, AMR: cmd.AMR, AuthTime: authAt, Token: tid, KeyID: s.codec().ActiveKeyID(), ExpiresAt: rtExp, At: now, NotAfter: notAfter}
	f := refreshtoken.Load(fam, nil)
	if err := f.Start(famEv); err != nil {
		return StartedSession{}, fmt.Errorf("%w: %w", session.ErrInvalid, err)
	}

	rec := session.Record{ID: sid, Subject: cmd.Subject, ClientID: cmd.ClientID, ACR: cmd.ACR, AMR: cmd.AMR,
		AuthTime: authAt, Family: fam.String(), CreatedAt: now, LastSeen: now, TokenHash: hashToken(raw)}
	if err := s.cfg.Sessions.Create(ctx, rec, s.sessionTTL(rec, now)); err != nil {
		return StartedSession{}, err
	}
	sevs, err := encodeTyped(sess.Pending(), meta)
	if err != nil {
		return StartedSession{}, err
	}
	fevs, err := encodeTyped(f.Pending(), meta)
	if err != nil {
		return StartedSession{}, err
	}
	if _, err := s.cfg.Store.Append(ctx,
		eventstore.StreamAppend{Stream: session.Stream(sid), Expected: eventstore.NoStream(), Events: sevs},
		eventstore.StreamAppend{Stream: fam.Stream(), Expected: eventstore.NoStream(), Events: fevs},
	); err != nil {
		// The ledger is the truth: without its record the session must not work.
		return StartedSession{}, errors.Join(fmt.Errorf("start session: %w", err), s.cfg.Sessions.Delete(context.WithoutCancel(ctx), sid))
	}
	pair, err := s.issuePair(ctx, famEv, refreshtoken.Claims{Family: fam, Generation: 1, Token: tid, ExpiresAt: rtExp, KeyID: famEv.KeyID}, false, meta, nil)
	if err != nil {
		return StartedSession{}, err
	}
	return StartedSession{SessionID: sid, SessionToken: raw, TokenPair: pair, ExpiresAt: sessEv.ExpiresAt}, nil
}
