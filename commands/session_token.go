package commands

import (
	"context"
	"fmt"

	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/domain/token"
)

// SessionResolver turns a session cookie value into its live session and
// records the touch (idle timeout) in the session store only; touches are
// not ledger events.
type SessionResolver struct {
	live        SessionStore
	revocations RevocationChecker
	rules       TokenRules
}

// NewSessionResolver builds the resolver.
func NewSessionResolver(live SessionStore, revocations RevocationChecker, rules TokenRules) *SessionResolver {
	return &SessionResolver{live: live, revocations: revocations, rules: rules}
}

// Resolve returns the live session of rawToken. Expired sessions are
// removed and answer session.ErrExpired; a session whose sid the ledger
// revoked answers session.ErrEnded even while the store still holds it.
func (r *SessionResolver) Resolve(ctx context.Context, rawToken string) (session.Record, error) {
	if rawToken == "" || len(rawToken) > 128 {
		return session.Record{}, session.ErrNotFound
	}
	rec, err := r.live.Lookup(ctx, hashToken(rawToken))
	if err != nil {
		return session.Record{}, err
	}
	now := r.rules.Now()
	if err := r.rules.checkSessionExpiry(rec, now); err != nil {
		_ = r.live.Delete(ctx, rec.ID)
		return session.Record{}, err
	}
	if r.revocations.IsRevoked("", rec.ID, "") {
		return session.Record{}, session.ErrEnded
	}
	rec.LastSeen = now
	if err := r.live.Touch(ctx, rec, now, r.rules.sessionTTL(rec, now)); err != nil {
		return session.Record{}, err
	}
	return rec, nil
}

// SessionAccessTokenHandler is POST /v1/session/token: a live session
// cookie buys a 10-minute access JWT carrying the session's sid, acr and
// amr.
type SessionAccessTokenHandler struct {
	resolver *SessionResolver
	signer   Signer
	rules    TokenRules
}

// NewSessionAccessTokenHandler builds the handler.
func NewSessionAccessTokenHandler(resolver *SessionResolver, signer Signer, rules TokenRules) *SessionAccessTokenHandler {
	return &SessionAccessTokenHandler{resolver: resolver, signer: signer, rules: rules}
}

// Handle issues the access token.
func (h *SessionAccessTokenHandler) Handle(ctx context.Context, rawToken string, meta Metadata) (_ TokenPair, err error) {
	ctx, end := startCommand(ctx, "SessionAccessToken")
	defer func() { end(err) }()
	rec, err := h.resolver.Resolve(ctx, rawToken)
	if err != nil {
		return TokenPair{}, err
	}
	at, err := h.signer.Sign(ctx, token.Claims{
		Class: token.Access, Subject: rec.Subject, ClientID: rec.ClientID, Audience: h.rules.accessAudience(),
		SessionID: rec.ID, AuthTime: rec.AuthTime, ACR: rec.ACR, AMR: rec.AMR,
	}, meta.as(SubjectActor(rec.Subject)))
	if err != nil {
		return TokenPair{}, fmt.Errorf("session token: %w", err)
	}
	return TokenPair{AccessToken: at.Raw, ExpiresIn: int64(at.ExpiresAt.Sub(at.IssuedAt).Seconds())}, nil
}
