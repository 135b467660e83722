package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/authledger/authledger/domain/oauth"
	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/domain/token"
)

// RevokeToken is an RFC 7009 request from an authenticated client.
type RevokeToken struct {
	Token    string
	Hint     string // "access_token", "refresh_token" or empty
	ClientID string
}

// RevokeHandler revokes refresh tokens (their whole family, RFC 7009 §2.1)
// and access tokens (until they expire).
type RevokeHandler struct {
	sealer   *RefreshSealer
	families *FamilyRepository // cached
	sessions *SessionRepository
	tokens   *TokenRepository
	verifier AccessVerifier
	rules    TokenRules
	notice   revocationNotice
}

// NewRevokeHandler builds the handler; cache is the instance's family cache.
func NewRevokeHandler(sealer *RefreshSealer, families *FamilyRepository, cache *FamilyCache, sessions *SessionRepository, tokens *TokenRepository,
	verifier AccessVerifier, rules TokenRules, publisher RevocationPublisher, live SessionWriter) *RevokeHandler {
	return &RevokeHandler{sealer: sealer, families: families.WithCache(cache), sessions: sessions, tokens: tokens, verifier: verifier,
		rules: rules, notice: revocationNotice{publisher: publisher, live: live}}
}

// Handle revokes. Unknown, malformed and expired tokens are not errors
// (§2.2: the server answers 200). A token issued to another client is
// refused with unauthorized_client and left alone.
func (h *RevokeHandler) Handle(ctx context.Context, r RevokeToken, meta Metadata) (err error) {
	ctx, end := startCommand(ctx, "RevokeToken")
	defer func() { end(err) }()
	meta = meta.as(ClientActor(r.ClientID))
	first, second := h.revokeRefresh, h.revokeAccess
	if r.Hint == "access_token" {
		first, second = h.revokeAccess, h.revokeRefresh
	}
	if done, err := first(ctx, r, meta); done || err != nil {
		return err
	}
	_, err = second(ctx, r, meta)
	return err
}

func (h *RevokeHandler) revokeRefresh(ctx context.Context, r RevokeToken, meta Metadata) (bool, error) {
	cl, err := h.sealer.Open(ctx, r.Token)
	if errors.Is(err, ErrSealingKeyMissing) {
		// RFC 7009 §2.2.1: the server could not revoke a token it may
		// have issued; answering 200 would let the client believe it did.
		return true, err
	}
	if err != nil {
		return false, nil
	}
	now := h.rules.Now()
	var sessionEnded bool
	c, err := h.families.Update(ctx, cl.Family, meta, func(f *refreshtoken.Family) ([]Changed, error) {
		if !f.Exists() {
			return nil, nil
		}
		if f.Info().ClientID != r.ClientID {
			return nil, oauth.ErrUnauthorizedClient.WithHint("the token was not issued to this client")
		}
		f.Revoke("revoked", now, h.rules.accessUntil(now))
		var also []Changed
		var err error
		also, sessionEnded, err = followFamily(ctx, h.sessions, f, meta.Actor)
		return also, err
	})
	if err != nil {
		return true, err
	}
	h.notice.familyRevoked(ctx, c.Aggregate, sessionEnded)
	return true, nil
}

// revokeAccess decides on the token's own stream, at its exact version, so
// two concurrent revocations of one token append once.
func (h *RevokeHandler) revokeAccess(ctx context.Context, r RevokeToken, meta Metadata) (bool, error) {
	c, err := h.verifier.VerifySignature(ctx, r.Token)
	if err != nil {
		return false, nil
	}
	if c.ClientID != r.ClientID {
		return true, oauth.ErrUnauthorizedClient.WithHint("the token was not issued to this client")
	}
	now := h.rules.Now()
	var decided bool
	if _, err := h.tokens.Update(ctx, c.JTI, meta, func(t *token.Token) ([]Changed, error) {
		decided = t.Revoke(c.ClientID, c.ExpiresAt, now)
		return nil, nil
	}); err != nil {
		return true, fmt.Errorf("revoke access token: %w", err)
	}
	if decided {
		h.notice.publish(ctx, "jti", c.JTI, c.ExpiresAt)
	}
	return true, nil
}
