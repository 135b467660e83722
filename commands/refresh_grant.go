package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/authledger/authledger/domain/oauth"
	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/domain/token"
)

// RefreshGrant is one refresh_token grant request (RFC 6749 §6) from an
// authenticated client.
type RefreshGrant struct {
	RefreshToken string
	ClientID     string
	// JKT is the thumbprint of the key of the request's valid DPoP proof
	// ("" for none). A family bound to a key refreshes only with proofs by
	// it; the access token is bound to it either way (RFC 9449 §5).
	JKT string
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
	// JKT is the DPoP key the access token is bound to ("" for Bearer).
	JKT string
}

// RefreshHandler spends a refresh token and returns its successor with a
// new access token.
type RefreshHandler struct {
	families *FamilyRepository // cached
	cache    *FamilyCache
	sessions *SessionRepository
	signer   Signer
	sealer   *RefreshSealer
	rules    TokenRules
	grace    time.Duration
	notice   revocationNotice
}

// NewRefreshHandler builds the handler. cache is the instance's family
// cache, shared with the other handlers that change families; grace is the
// retry window (0 to refreshtoken.MaxGrace).
func NewRefreshHandler(families *FamilyRepository, cache *FamilyCache, sessions *SessionRepository, signer Signer, sealer *RefreshSealer,
	rules TokenRules, grace time.Duration, publisher RevocationPublisher, live SessionWriter) (*RefreshHandler, error) {
	if grace < 0 || grace > refreshtoken.MaxGrace {
		return nil, refreshtoken.ErrBadGrace
	}
	return &RefreshHandler{families: families.WithCache(cache), cache: cache, sessions: sessions, signer: signer, sealer: sealer,
		rules: rules, grace: grace, notice: revocationNotice{publisher: publisher, live: live}}, nil
}

// Handle refreshes. Every refusal is invalid_grant (RFC 6749 §5.2) whose
// debug text names the reason for the log; a presentation that cannot
// touch a family (malformed, forged, expired, another client's) appends
// only a refreshtoken.Rejected audit event. Presenting a spent token
// records reuse and revokes the family before refusing, and the family's
// session ends in the same append (session.FollowFamily).
//
// A request whose context has ended before the rotation is appended
// appends nothing and returns the context's error: the client gave up, so
// spending its token would only leave it holding a dead one. (Once the
// append is under way it may still commit; the client's retry of the same
// token then gets the committed successor within the grace period.)
func (h *RefreshHandler) Handle(ctx context.Context, g RefreshGrant, meta Metadata) (_ TokenPair, err error) {
	ctx, end := startCommand(ctx, "RefreshGrant")
	defer func() { end(err) }()
	if err := ctx.Err(); err != nil {
		return TokenPair{}, err
	}
	meta = meta.as(ClientActor(g.ClientID))
	now := h.rules.Now()
	cl, err := h.sealer.Open(ctx, g.RefreshToken)
	if errors.Is(err, ErrSealingKeyMissing) {
		return TokenPair{}, err // a server fault: the client keeps its token
	}
	if err != nil {
		return TokenPair{}, h.reject(ctx, "malformed", g.ClientID, nil, meta)
	}
	if cl.Expired(now) {
		return TokenPair{}, h.reject(ctx, "expired", g.ClientID, &cl, meta)
	}
	next, err := h.rules.newTokenID()
	if err != nil {
		return TokenPair{}, err
	}
	exp := now.Add(h.rules.Class(token.Refresh).Lifetime).Truncate(time.Second)
	early := h.signEarly(ctx, cl, g, meta)
	var out refreshtoken.Outcome
	var sessionEnded bool
	c, err := h.families.Update(ctx, cl.Family, meta, func(f *refreshtoken.Family) ([]Changed, error) {
		var err error
		out, err = f.Rotate(refreshtoken.RotateInput{
			Presented: cl, ClientID: g.ClientID, JKT: g.JKT, Next: next, KeyID: h.sealer.ActiveKeyID(),
			ExpiresAt: exp, Now: now, Grace: h.grace, AccessLifetime: h.rules.Class(token.Access).Lifetime,
		})
		if err != nil {
			return nil, err
		}
		var also []Changed
		also, sessionEnded, err = followFamily(ctx, h.sessions, f, meta.Actor)
		if err != nil {
			return nil, err
		}
		// The last point where a cancelled request can still append nothing.
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return also, nil
	})
	switch {
	case errors.Is(err, refreshtoken.ErrWrongClient):
		return TokenPair{}, h.reject(ctx, "wrong_client", g.ClientID, &cl, meta)
	case errors.Is(err, refreshtoken.ErrKeyMismatch):
		return TokenPair{}, h.rejectKey(ctx, g, &cl, meta)
	case errors.Is(err, refreshtoken.ErrUnknownFamily), errors.Is(err, refreshtoken.ErrUnknownToken):
		return TokenPair{}, h.reject(ctx, "unknown", g.ClientID, &cl, meta)
	case errors.Is(err, refreshtoken.ErrExpired):
		return TokenPair{}, h.reject(ctx, "expired", g.ClientID, &cl, meta)
	case errors.Is(err, refreshtoken.ErrFamilyRevoked):
		return TokenPair{}, h.reject(ctx, "family_revoked", g.ClientID, &cl, meta)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return TokenPair{}, err
	case errors.Is(err, ErrKeptConflicting):
		// Still losing after the bounded reloads: refuse rather than guess.
		return TokenPair{}, oauth.ErrInvalidGrant.WithDebug("refresh: concurrent presentations kept conflicting")
	case err != nil:
		return TokenPair{}, fmt.Errorf("refresh: %w", err)
	}
	h.notice.familyRevoked(ctx, c.Aggregate, sessionEnded)
	if out.Kind == refreshtoken.OutcomeReuse {
		return TokenPair{}, oauth.ErrInvalidGrant.WithDebug("refresh: reuse of a spent token; family " + cl.Family.String() + " revoked and its session ended")
	}
	return h.issue(ctx, c.Aggregate.Info(), g.JKT, out.Successor, out.Kind == refreshtoken.OutcomeGraceReplay, meta, early)
}

type signed struct {
	at  token.Issued
	err error
	// The authentication context the early token was signed with: a
	// step-up committed meanwhile changes the family's, and the early
	// token is then signed again.
	acr      string
	authTime time.Time
}

// signEarly starts signing the access token while the rotation is
// appended, when this instance knows the family and the presentation is
// likely to win (the cached current token, by its own client, of a live
// family): the two ledger appends then share a group commit instead of
// queueing one after the other. The claims come from the family's start,
// which changes only on a step-up (checked in issuePair). If the rotation is refused the token is dropped
// undelivered (its issuance stays in the ledger, marked with the family,
// as evidence rather than a credential).
func (h *RefreshHandler) signEarly(ctx context.Context, cl refreshtoken.Claims, g RefreshGrant, meta Metadata) <-chan signed {
	f := h.cache.peek(cl.Family)
	if f == nil || ctx.Err() != nil {
		return nil
	}
	cur, _ := f.Current()
	info := f.Info()
	if revoked, _ := f.Revoked(); revoked || info.ClientID != g.ClientID || cur != cl.Token || (info.JKT != "" && info.JKT != g.JKT) {
		return nil
	}
	early := make(chan signed, 1)
	go func() {
		at, err := signFamilyAccess(context.WithoutCancel(ctx), h.signer, h.rules, info, g.JKT, meta)
		early <- signed{at: at, err: err, acr: info.ACR, authTime: info.AuthTime}
	}()
	return early
}

// signFamilyAccess signs an access token of the family, bound to the DPoP
// key jkt of the request when it carried a proof.
func signFamilyAccess(ctx context.Context, signer Signer, rules TokenRules, info refreshtoken.Started, jkt string, meta Metadata) (token.Issued, error) {
	return signer.Sign(ctx, token.Claims{
		Class: token.Access, Subject: info.Subject, ClientID: info.ClientID, Audience: rules.accessAudience(),
		Scope: info.Scope, SessionID: info.SessionID, FamilyID: info.Family.String(),
		AuthTime: info.AuthTime, ACR: info.ACR, AMR: info.AMR, JKT: jkt,
	}, meta)
}

func (h *RefreshHandler) issue(ctx context.Context, info refreshtoken.Started, jkt string, succ refreshtoken.Claims, replay bool, meta Metadata, early <-chan signed) (TokenPair, error) {
	return issuePair(ctx, h.signer, h.sealer, h.rules, info, jkt, succ, replay, meta, early)
}

// issuePair signs an access token for the family (or takes the one signed
// early) and seals its refresh token.
func issuePair(ctx context.Context, signer Signer, sealer *RefreshSealer, rules TokenRules, info refreshtoken.Started, jkt string, succ refreshtoken.Claims, replay bool, meta Metadata, early <-chan signed) (TokenPair, error) {
	rt, err := sealer.Seal(succ)
	if err != nil {
		// The successor's sealing key is gone (rotated out): refuse rather
		// than mint a second successor, which would fork the family.
		return TokenPair{}, oauth.ErrInvalidGrant.WithDebug("refresh: " + err.Error())
	}
	var at token.Issued
	if early != nil {
		r := <-early
		at, err = r.at, r.err
		if err == nil && (r.acr != info.ACR || !r.authTime.Equal(info.AuthTime)) {
			at, err = signFamilyAccess(ctx, signer, rules, info, jkt, meta)
		}
	} else {
		at, err = signFamilyAccess(ctx, signer, rules, info, jkt, meta)
	}
	if err != nil {
		return TokenPair{}, fmt.Errorf("refresh: sign access token: %w", err)
	}
	return TokenPair{
		AccessToken: at.Raw, RefreshToken: rt, ExpiresIn: int64(at.ExpiresAt.Sub(at.IssuedAt) / time.Second),
		Scope: strings.Join(info.Scope, " "), Family: info.Family, GraceReplay: replay, JKT: at.JKT,
	}, nil
}

// reject records the refused presentation and returns invalid_grant. The
// audit append is best effort: its failure is logged through the returned
// error's debug text, never turned into a success.
func (h *RefreshHandler) reject(ctx context.Context, reason, clientID string, cl *refreshtoken.Claims, meta Metadata) error {
	ev := refreshtoken.Rejected{Reason: reason, ClientID: clientID, At: h.rules.Now()}
	if cl != nil {
		fam, tok := cl.Family, cl.Token
		ev.Family, ev.Token = &fam, &tok
	}
	debug := "refresh: " + reason
	if _, err := AppendAll(ctx, h.families.Store(), meta, Record(refreshtoken.RejectionsStream, ev)); err != nil {
		debug += " (audit append failed: " + err.Error() + ")"
	}
	return oauth.ErrInvalidGrant.WithDebug(debug)
}

// rejectKey records a refresh of a DPoP-bound family without a proof by
// its key (RFC 9449 §5), with the key it did present, and refuses it.
func (h *RefreshHandler) rejectKey(ctx context.Context, g RefreshGrant, cl *refreshtoken.Claims, meta Metadata) error {
	fam, tok := cl.Family, cl.Token
	ev := refreshtoken.Rejected{Reason: "dpop_key_mismatch", ClientID: g.ClientID, Family: &fam, Token: &tok, JKT: g.JKT, At: h.rules.Now()}
	debug := "refresh: dpop_key_mismatch"
	if _, err := AppendAll(ctx, h.families.Store(), meta, Record(refreshtoken.RejectionsStream, ev)); err != nil {
		debug += " (audit append failed: " + err.Error() + ")"
	}
	return oauth.ErrInvalidGrant.WithHint("the refresh token is bound to another DPoP key").WithDebug(debug)
}
