package commands

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/domain/token"
	"github.com/authledger/authledger/eventstore"
)

// StartSession is POST /v1/sessions: a login service (ClientID, holding
// scope sessions:create) starts a session for a subject it authenticated.
type StartSession struct {
	ClientID string
	Subject  string
	AMR      []string
	ACR      string
	// JKT is the thumbprint of the key of the request's valid DPoP proof
	// ("" for none): the refresh family and its access tokens are bound to
	// it (RFC 9449 §5).
	JKT string
}

// StartedSession is the answer of DESIGN.md §5. SessionToken is the cookie
// value; it exists only here and (hashed) in the session store.
type StartedSession struct {
	SessionID    string
	SessionToken string
	TokenPair
	ExpiresAt time.Time // absolute expiry
}

// StartSessionHandler starts a session and its refresh family.
type StartSessionHandler struct {
	store  eventstore.Store
	live   SessionWriter
	signer Signer
	sealer *RefreshSealer
	rules  TokenRules
}

// NewStartSessionHandler builds the handler.
func NewStartSessionHandler(store eventstore.Store, live SessionWriter, signer Signer, sealer *RefreshSealer, rules TokenRules) *StartSessionHandler {
	return &StartSessionHandler{store: store, live: live, signer: signer, sealer: sealer, rules: rules}
}

// Handle records the session and its refresh family in one append, stores
// the session under its token hash, and issues the three tokens. With the
// session store down it fails with session.ErrUnavailable before anything
// is appended.
func (h *StartSessionHandler) Handle(ctx context.Context, cmd StartSession, meta Metadata) (_ StartedSession, err error) {
	ctx, end := startCommand(ctx, "StartSession")
	defer func() { end(err) }()
	meta = meta.as(ClientActor(cmd.ClientID))
	now := h.rules.Now()
	sid := uuid.NewString()
	raw, err := h.rules.newSessionToken()
	if err != nil {
		return StartedSession{}, err
	}
	fam, err := h.rules.newFamilyID()
	if err != nil {
		return StartedSession{}, err
	}
	tid, err := h.rules.newTokenID()
	if err != nil {
		return StartedSession{}, err
	}
	authAt := now.Truncate(time.Second)
	sessEv := session.Started{ID: sid, Subject: cmd.Subject, ClientID: cmd.ClientID, ACR: cmd.ACR, AMR: cmd.AMR,
		AuthTime: authAt, Family: fam.String(), ExpiresAt: now.Add(h.rules.Class(token.Session).Lifetime), At: now, TokenHash: hashToken(raw)}
	sess := session.Load(sid, nil)
	if err := sess.Start(sessEv); err != nil {
		return StartedSession{}, err
	}
	// The family dies with the session (docs/refresh-tokens.md): its bound
	// is the session's absolute expiry, the refresh lifetime at most.
	rtLifetime := h.rules.Class(token.Refresh).Lifetime
	notAfter := refreshtoken.AbsoluteBound(now, rtLifetime, sessEv.ExpiresAt)
	rtExp := now.Add(rtLifetime).Truncate(time.Second)
	if rtExp.After(notAfter) {
		rtExp = notAfter
	}
	famEv := refreshtoken.Started{Family: fam, ClientID: cmd.ClientID, Subject: cmd.Subject, SessionID: sid,
		ACR: cmd.ACR, AMR: cmd.AMR, AuthTime: authAt, Token: tid, KeyID: h.sealer.ActiveKeyID(), ExpiresAt: rtExp, At: now, NotAfter: notAfter, JKT: cmd.JKT}
	f := refreshtoken.Load(fam, nil)
	if err := f.Start(famEv); err != nil {
		return StartedSession{}, fmt.Errorf("%w: %w", session.ErrInvalid, err)
	}

	rec := session.Record{ID: sid, Subject: cmd.Subject, ClientID: cmd.ClientID, ACR: cmd.ACR, AMR: cmd.AMR,
		AuthTime: authAt, Family: fam.String(), CreatedAt: now, LastSeen: now, TokenHash: hashToken(raw)}
	if err := h.live.Create(ctx, rec, h.rules.sessionTTL(rec, now)); err != nil {
		return StartedSession{}, err
	}
	if _, err := AppendAll(ctx, h.store, meta, Changes(sess), Changes(f)); err != nil {
		// The ledger is the truth: without its record the session must not work.
		return StartedSession{}, errors.Join(fmt.Errorf("start session: %w", err), h.live.Delete(context.WithoutCancel(ctx), sid))
	}
	pair, err := issuePair(ctx, h.signer, h.sealer, h.rules, famEv, cmd.JKT, refreshtoken.Claims{Family: fam, Generation: 1, Token: tid, ExpiresAt: rtExp, KeyID: famEv.KeyID}, false, meta, nil)
	if err != nil {
		return StartedSession{}, err
	}
	return StartedSession{SessionID: sid, SessionToken: raw, TokenPair: pair, ExpiresAt: sessEv.ExpiresAt}, nil
}
