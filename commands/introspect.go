package commands

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Introspection is an RFC 7662 §2.2 answer. Inactive answers carry nothing
// but Active=false, so introspection never says why a token failed.
type Introspection struct {
	Active bool `json:"active"`
	// TokenType is the RFC 6749 §7.1 type (RFC 7662 §2.2): "Bearer" for
	// access and M2M tokens, absent for refresh tokens.
	TokenType string   `json:"token_type,omitempty"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	Subject   string   `json:"sub,omitempty"`
	Audience  []string `json:"aud,omitempty"`
	Issuer    string   `json:"iss,omitempty"`
	JTI       string   `json:"jti,omitempty"`
	SessionID string   `json:"sid,omitempty"`
	ACR       string   `json:"acr,omitempty"`
	Exp       int64    `json:"exp,omitempty"`
	Iat       int64    `json:"iat,omitempty"`
	Nbf       int64    `json:"nbf,omitempty"`
}

// Introspect answers whether raw is valid now: signature by a non-revoked
// key, time window, and the revocation set (jti, session, family) for access
// tokens; the family's current, unexpired, unrevoked token for refresh
// tokens, which only the family's own client may introspect.
func (s *TokenService) Introspect(ctx context.Context, raw, hint, callerClientID string) (Introspection, error) {
	now := s.clockNow()
	if cl, err := s.openRefresh(ctx, raw); err == nil {
		f, err := s.loadFamily(ctx, cl.Family)
		if err != nil {
			return Introspection{}, err
		}
		if !f.Active(cl, now) || f.Info().ClientID != callerClientID {
			return Introspection{}, nil
		}
		info := f.Info()
		_, exp := f.Current()
		// No token_type: RFC 7662 §2.2 means the RFC 6749 §7.1 access token
		// type, which a refresh token does not have.
		return Introspection{Active: true, Scope: strings.Join(info.Scope, " "), ClientID: info.ClientID,
			Subject: info.Subject, SessionID: info.SessionID, ACR: info.ACR, Exp: exp.Unix()}, nil
	}
	if s.cfg.Verifier == nil {
		return Introspection{}, nil
	}
	c, err := s.cfg.Verifier.VerifySignature(ctx, raw)
	if err != nil {
		return Introspection{}, nil
	}
	if !s.accessLive(c, now) {
		return Introspection{}, nil
	}
	return Introspection{Active: true, TokenType: "Bearer", Scope: c.Scope, ClientID: c.ClientID, Subject: c.Subject,
		Audience: c.Audience, Issuer: c.Issuer, JTI: c.JTI, SessionID: c.SessionID, ACR: c.ACR,
		Exp: c.ExpiresAt.Unix(), Iat: c.IssuedAt.Unix(), Nbf: c.NotBefore.Unix()}, nil
}

// introspectLeeway tolerates clock skew between instances for nbf only;
// expiry is exact, so a token is never reported active after it.
const introspectLeeway = 5 * time.Second

// ErrAccessDenied: a bearer token presented to authledger's own session
// APIs is missing, invalid, expired, revoked or not meant for them.
var ErrAccessDenied = errors.New("tokens: access token not valid here")

// VerifyAccess checks a bearer token presented to authledger's own /v1
// APIs: signature, time window, aud holding the issuer (DESIGN.md §5), and
// the revocation set.
func (s *TokenService) VerifyAccess(ctx context.Context, raw string) (AccessClaims, error) {
	if s.cfg.Verifier == nil {
		return AccessClaims{}, ErrAccessDenied
	}
	c, err := s.cfg.Verifier.VerifySignature(ctx, raw)
	if err != nil {
		return AccessClaims{}, fmt.Errorf("%w: %w", ErrAccessDenied, err)
	}
	if !s.accessLive(c, s.clockNow()) || !slices.Contains(c.Audience, s.cfg.Issuer) {
		return AccessClaims{}, ErrAccessDenied
	}
	return c, nil
}

// accessLive is the rule both introspection and VerifyAccess apply to a
// correctly signed access token: inside its time window (nbf with leeway,
// exp exact) and not revoked by jti or session.
func (s *TokenService) accessLive(c AccessClaims, now time.Time) bool {
	if !now.Before(c.ExpiresAt) || now.Add(introspectLeeway).Before(c.NotBefore) {
		return false
	}
	return s.cfg.Revocations == nil || !s.cfg.Revocations.IsRevoked(c.JTI, c.SessionID, "")
}
