package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"authledger/domain/oauth"
	"authledger/domain/refreshtoken"
	"authledger/domain/token"
	"authledger/eventstore"
)

// RefreshGrant is one refresh_token grant request (RFC 6749 §6) from an
// authenticated client.
type RefreshGrant struct {
	RefreshToken string
	ClientID     string
}

// TokenPair is what a refresh or a session start hands back.
type TokenPair struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    int64 // access token lifetime, seconds
	Scope        string
	Family       refreshtoken.FamilyID
	// GraceReplay is set when the refresh token is the successor handed out
	// again within the grace period.
	GraceReplay bool
}

// Refresh spends the presented refresh token and returns its successor with
// a new access token. Every refusal is invalid_grant (RFC 6749 §5.2) whose
// debug text names the reason for the log; a presentation that cannot touch
// a family (malformed, forged, expired, another client's) appends only a
// refreshtoken.Rejected audit event. Presenting a spent token records reuse
// and revokes the family before refusing; the family's session, if any, is
// ended in the same append (see appendFamily).
func (s *TokenService) Refresh(ctx context.Context, g RefreshGrant, meta Metadata) (TokenPair, error) {
	meta = meta.as(ClientActor(g.ClientID))
	now := s.clockNow()
	cl, err := s.openRefresh(ctx, g.RefreshToken)
	if err != nil {
		return TokenPair{}, s.reject(ctx, "malformed", g.ClientID, nil, meta)
	}
	if cl.Expired(now) {
		return TokenPair{}, s.reject(ctx, "expired", g.ClientID, &cl, meta)
	}
	next, err := s.newTokenID()
	if err != nil {
		return TokenPair{}, err
	}
	lifetime := s.policy.Class(token.Refresh).Lifetime
	exp := now.Add(lifetime).Truncate(time.Second)
	// When this instance knows the family, the access token is signed while
	// the rotation is appended: the two ledger appends then share a group
	// commit instead of queueing one after the other. The claims come from
	// the family's start, which never changes. If the rotation is refused
	// the token is dropped undelivered (its issuance stays in the ledger,
	// marked with the family, as evidence rather than a credential).
	var early chan signed
	if f := s.families.peek(cl.Family); f != nil {
		// Only for the presentation that is likely to win: the cached
		// current token, by its own client, of a live family.
		cur, _ := f.Current()
		if info := f.Info(); info.ClientID == g.ClientID && cur == cl.Token {
			if revoked, _ := f.Revoked(); !revoked {
				early = make(chan signed, 1)
				go func() {
					at, err := s.signFamilyAccess(context.WithoutCancel(ctx), info, meta)
					early <- signed{at, err}
				}()
			}
		}
	}
	var out refreshtoken.Outcome
	var info refreshtoken.Started
	err = s.updateFamily(ctx, cl.Family, meta, func(f *refreshtoken.Family) error {
		var err error
		out, err = f.Rotate(refreshtoken.RotateInput{
			Presented: cl, ClientID: g.ClientID, Next: next, KeyID: s.codec().ActiveKeyID(),
			ExpiresAt: exp, Now: now, Grace: s.cfg.Grace, AccessLifetime: s.policy.Class(token.Access).Lifetime,
		})
		info = f.Info()
		return err
	})
	switch {
	case errors.Is(err, refreshtoken.ErrWrongClient):
		return TokenPair{}, s.reject(ctx, "wrong_client", g.ClientID, &cl, meta)
	case errors.Is(err, refreshtoken.ErrUnknownFamily), errors.Is(err, refreshtoken.ErrUnknownToken):
		return TokenPair{}, s.reject(ctx, "unknown", g.ClientID, &cl, meta)
	case errors.Is(err, refreshtoken.ErrExpired):
		return TokenPair{}, s.reject(ctx, "expired", g.ClientID, &cl, meta)
	case errors.Is(err, refreshtoken.ErrFamilyRevoked):
		return TokenPair{}, s.reject(ctx, "family_revoked", g.ClientID, &cl, meta)
	case errors.Is(err, eventstore.ErrWrongExpectedVersion):
		// Still losing after the bounded reloads: refuse rather than guess.
		return TokenPair{}, oauth.ErrInvalidGrant.WithDebug("refresh: concurrent presentations kept conflicting")
	case err != nil:
		return TokenPair{}, fmt.Errorf("refresh: %w", err)
	}
	if out.Kind == refreshtoken.OutcomeReuse {
		return TokenPair{}, oauth.ErrInvalidGrant.WithDebug("refresh: reuse of a spent token; family " + cl.Family.String() + " revoked and its session ended")
	}
	return s.issuePair(ctx, info, out.Successor, out.Kind == refreshtoken.OutcomeGraceReplay, meta, early)
}

type signed struct {
	at  token.Issued
	err error
}

func (s *TokenService) signFamilyAccess(ctx context.Context, info refreshtoken.Started, meta Metadata) (token.Issued, error) {
	return s.cfg.Signer.Sign(ctx, token.Claims{
		Class: token.Access, Subject: info.Subject, ClientID: info.ClientID, Audience: s.accessAudience(),
		Scope: info.Scope, SessionID: info.SessionID, FamilyID: info.Family.String(),
		AuthTime: info.AuthTime, ACR: info.ACR, AMR: info.AMR,
	}, meta)
}

// issuePair signs an access token for the family (or takes the one signed
// early) and seals its refresh token.
func (s *TokenService) issuePair(ctx context.Context, info refreshtoken.Started, succ refreshtoken.Claims, replay bool, meta Metadata, early <-chan signed) (TokenPair, error) {
	rt, err := s.codec().Seal(succ)
	if err != nil {
		// The successor's sealing key is gone (rotated out): refuse rather
		// than mint a second successor, which would fork the family.
		return TokenPair{}, oauth.ErrInvalidGrant.WithDebug("refresh: " + err.Error())
	}
	var at token.Issued
	if early != nil {
		r := <-early
		at, err = r.at, r.err
	} else {
		at, err = s.signFamilyAccess(ctx, info, meta)
	}
	if err != nil {
		return TokenPair{}, fmt.Errorf("refresh: sign access token: %w", err)
	}
	return TokenPair{
		AccessToken: at.Raw, RefreshToken: rt, ExpiresIn: int64(at.ExpiresAt.Sub(at.IssuedAt) / time.Second),
		Scope: strings.Join(info.Scope, " "), Family: info.Family, GraceReplay: replay,
	}, nil
}

// reject records the refused presentation and returns invalid_grant. The
// audit append is best effort: its failure is logged through the returned
// error's debug text, never turned into a success.
func (s *TokenService) reject(ctx context.Context, reason, clientID string, cl *refreshtoken.Claims, meta Metadata) error {
	ev := refreshtoken.Rejected{Reason: reason, ClientID: clientID, At: s.clockNow()}
	if cl != nil {
		fam, tok := cl.Family, cl.Token
		ev.Family, ev.Token = &fam, &tok
	}
	debug := "refresh: " + reason
	evs, err := encodeTyped([]refreshtoken.Rejected{ev}, meta)
	if err == nil {
		_, err = s.cfg.Store.Append(ctx, eventstore.StreamAppend{Stream: refreshtoken.RejectionsStream, Expected: eventstore.Any(), Events: evs})
	}
	if err != nil {
		debug += " (audit append failed: " + err.Error() + ")"
	}
	return oauth.ErrInvalidGrant.WithDebug(debug)
}
