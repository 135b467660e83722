package queries

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/authledger/authledger/domain/token"
)

// IntrospectAnyScope is the registered scope that lets a client learn about
// every access token at introspection (RFC 7662 §4): resource servers that
// introspect the tokens presented to them get it.
const IntrospectAnyScope = "introspect:any"

// Caller is the client that authenticated at the introspection endpoint
// (RFC 7662 §2.1): its client id and the scopes registered for it.
type Caller struct {
	ClientID string
	Scopes   []string
}

// mayLearn reports whether the caller may learn about access token c (RFC
// 7662 §4): it is the token's client, one of its audiences (its client id
// is in aud; the audiences a client may request for its own tokens say
// where it may call, not who it is, so they do not count), or it holds
// IntrospectAnyScope.
func (c Caller) mayLearn(t token.AccessClaims) bool {
	if c.ClientID == "" {
		return false
	}
	return c.ClientID == t.ClientID || slices.Contains(t.Audience, c.ClientID) || slices.Contains(c.Scopes, IntrospectAnyScope)
}

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
	// Cnf is the RFC 7800 confirmation of a DPoP-bound token: the key
	// thumbprint (RFC 9449 §6.2). Absent for bearer tokens.
	Cnf *Confirmation `json:"cnf,omitempty"`
}

// Confirmation is an RFC 7800 cnf member with the RFC 9449 jkt.
type Confirmation struct {
	JKT string `json:"jkt"`
}

func confirmation(jkt string) *Confirmation {
	if jkt == "" {
		return nil
	}
	return &Confirmation{JKT: jkt}
}

// Introspector answers RFC 7662 introspection requests.
type Introspector struct {
	refresh     RefreshOpener
	families    FamilyLoader
	verifier    AccessVerifier
	revocations RevocationChecker
	now         func() time.Time
}

// NewIntrospector builds the query; now nil means time.Now.
func NewIntrospector(refresh RefreshOpener, families FamilyLoader, verifier AccessVerifier, revocations RevocationChecker, now func() time.Time) *Introspector {
	if now == nil {
		now = time.Now
	}
	return &Introspector{refresh: refresh, families: families, verifier: verifier, revocations: revocations, now: now}
}

// Introspect answers whether raw is valid now: signature by a non-revoked
// key, time window, and the revocation set (jti, session, family) for
// access tokens; the family's current, unexpired, unrevoked token for
// refresh tokens. A caller not entitled to learn about the token gets the
// inactive answer, exactly as for an invalid one (RFC 7662 §4): refresh
// tokens answer only the family's own client; access tokens answer their
// client, their audiences and holders of IntrospectAnyScope
// (Caller.mayLearn).
func (q *Introspector) Introspect(ctx context.Context, raw, hint string, caller Caller) (Introspection, error) {
	now := q.now().UTC()
	cl, err := q.refresh.Open(ctx, raw)
	var fault interface{ ServerFault() bool }
	if errors.As(err, &fault) && fault.ServerFault() {
		// A token this instance cannot open for want of a key the ledger
		// used may be active: answering inactive would be a lie.
		return Introspection{}, err
	}
	if err == nil {
		f, err := q.families.Load(ctx, cl.Family)
		if err != nil {
			return Introspection{}, err
		}
		if !f.Active(cl, now) || caller.ClientID == "" || f.Info().ClientID != caller.ClientID {
			return Introspection{}, nil
		}
		info := f.Info()
		_, exp := f.Current()
		// No token_type: RFC 7662 §2.2 means the RFC 6749 §7.1 access token
		// type, which a refresh token does not have.
		return Introspection{Active: true, Scope: strings.Join(info.Scope, " "), ClientID: info.ClientID,
			Subject: info.Subject, SessionID: info.SessionID, ACR: info.ACR, Exp: exp.Unix(), Cnf: confirmation(info.JKT)}, nil
	}
	c, err := q.verifier.VerifySignature(ctx, raw)
	if err != nil || !accessLive(c, q.revocations, now) || !caller.mayLearn(c) {
		return Introspection{}, nil
	}
	tt := "Bearer"
	if c.JKT != "" {
		tt = "DPoP" // RFC 9449 §6.2
	}
	return Introspection{Active: true, TokenType: tt, Cnf: confirmation(c.JKT), Scope: c.Scope, ClientID: c.ClientID, Subject: c.Subject,
		Audience: c.Audience, Issuer: c.Issuer, JTI: c.JTI, SessionID: c.SessionID, ACR: c.ACR,
		Exp: c.ExpiresAt.Unix(), Iat: c.IssuedAt.Unix(), Nbf: c.NotBefore.Unix()}, nil
}
