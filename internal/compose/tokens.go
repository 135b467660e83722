// Package compose wires the token use cases from their dependencies, once,
// for the composition root (cmd/authledger) and for the tests that need the
// real handlers: neither keeps its own copy of the wiring or of the
// verifier adapter.
package compose

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/client/verifier"
	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/token"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/queries"
)

// AccessVerifierFunc adapts a function to the commands' and queries'
// AccessVerifier ports.
type AccessVerifierFunc func(ctx context.Context, raw string) (token.AccessClaims, error)

// VerifySignature implements commands.AccessVerifier and queries.AccessVerifier.
func (f AccessVerifierFunc) VerifySignature(ctx context.Context, raw string) (token.AccessClaims, error) {
	return f(ctx, raw)
}

// AccessVerifier adapts client/verifier to the AccessVerifier ports: the
// one place a verified JWT becomes token.AccessClaims.
func AccessVerifier(v *verifier.Verifier) AccessVerifierFunc {
	return func(ctx context.Context, raw string) (token.AccessClaims, error) {
		c, err := v.Verify(ctx, raw)
		if err != nil {
			return token.AccessClaims{}, err
		}
		return token.AccessClaims{Issuer: c.Issuer, Subject: c.Subject, Audience: c.Audience, ClientID: c.ClientID,
			Scope: strings.Join(c.Scope, " "), JTI: c.ID, SessionID: c.SessionID, ACR: c.ACR,
			IssuedAt: c.IssuedAt, NotBefore: c.NotBefore, ExpiresAt: c.ExpiresAt, JKT: c.JKT}, nil
	}
}

// TokenDeps is everything the token use cases depend on; every field is
// required.
type TokenDeps struct {
	Store    eventstore.Store
	Signer   commands.Signer
	Sealer   *commands.RefreshSealer
	Live     commands.SessionStore
	Verifier commands.AccessVerifier
	// Revocations is the revocation set: the commands consult it by jti,
	// sid and family, the queries also by client_id (disabled clients).
	Revocations queries.RevocationChecker
	Publisher   commands.RevocationPublisher
	Rules       commands.TokenRules
	// Grace is the refresh retry window (0 to 30 s).
	Grace time.Duration
	// SessionIndex, optional, finds a session the Live store lost in the
	// ledger's session-token index, so it is rebuilt from the ledger.
	SessionIndex commands.SessionIndex
}

func (d TokenDeps) validate() error {
	var errs []error
	for name, missing := range map[string]bool{
		"Store": d.Store == nil, "Signer": d.Signer == nil, "Sealer": d.Sealer == nil, "Live": d.Live == nil,
		"Verifier": d.Verifier == nil, "Revocations": d.Revocations == nil, "Publisher": d.Publisher == nil,
		"Rules": d.Rules.Issuer() == "",
	} {
		if missing {
			errs = append(errs, errors.New("compose: tokens: "+name+" is required"))
		}
	}
	return errors.Join(errs...)
}

// Tokens is every session, refresh-family and token use case, wired once.
type Tokens struct {
	Refresh      *commands.RefreshHandler
	StartSession *commands.StartSessionHandler
	EndSession   *commands.EndSessionHandler
	Elevate      *commands.ElevateSessionHandler
	Revoke       *commands.RevokeHandler
	AccessToken  *commands.SessionAccessTokenHandler
	Resolver     *commands.SessionResolver
	Introspector *queries.Introspector
	Access       *queries.AccessChecker
	Sessions     *queries.Sessions
	// Families is the ledger-backed family repository (no cache), for
	// readers that must see the ledger's state.
	Families *commands.FamilyRepository
}

// NewTokens wires the use cases; the refresh, revoke and end-session
// handlers share one family cache.
func NewTokens(d TokenDeps) (Tokens, error) {
	if err := d.validate(); err != nil {
		return Tokens{}, err
	}
	families, sessions := commands.Families(d.Store), commands.Sessions(d.Store)
	cache := &commands.FamilyCache{}
	refresh, err := commands.NewRefreshHandler(families, cache, sessions, d.Signer, d.Sealer, d.Rules, d.Grace, d.Publisher, d.Live)
	if err != nil {
		return Tokens{}, err
	}
	resolver := commands.NewSessionResolver(d.Live, d.Revocations, d.Rules)
	if d.SessionIndex != nil {
		resolver.RebuildFromLedger(d.SessionIndex, sessions)
	}
	return Tokens{
		Refresh:      refresh,
		StartSession: commands.NewStartSessionHandler(d.Store, d.Live, d.Signer, d.Sealer, d.Rules),
		EndSession:   commands.NewEndSessionHandler(sessions, families, cache, d.Live, d.Rules, d.Publisher),
		Elevate:      commands.NewElevateSessionHandler(sessions, families, cache, d.Live, d.Rules),
		Revoke:       commands.NewRevokeHandler(d.Sealer, families, cache, sessions, commands.Tokens(d.Store), d.Verifier, d.Rules, d.Publisher, d.Live),
		AccessToken:  commands.NewSessionAccessTokenHandler(resolver, d.Signer, d.Rules),
		Resolver:     resolver,
		Introspector: queries.NewIntrospector(d.Sealer, families, d.Verifier, d.Revocations, d.Rules.Now),
		Access:       queries.NewAccessChecker(d.Verifier, d.Revocations, d.Rules.Issuer(), d.Rules.Now),
		Sessions:     queries.NewSessions(d.Live, d.Rules.Policy(), d.Rules.Now),
		Families:     families,
	}, nil
}

// SessionUseCases is what api.NewSessions takes.
func (t Tokens) SessionUseCases() api.SessionUseCases {
	return api.SessionUseCases{Start: t.StartSession, Elevate: t.Elevate, End: t.EndSession, AccessToken: t.AccessToken,
		Resolve: t.Resolver, List: t.Sessions, Access: t.Access}
}

// BearerVerifier adapts client/verifier to the api's bearer port: the one
// place a verified JWT becomes an api.Principal.
func BearerVerifier(v *verifier.Verifier) api.BearerVerifierFunc {
	return func(ctx context.Context, raw string) (api.Principal, error) {
		c, err := v.Verify(ctx, raw)
		if err != nil {
			return api.Principal{}, err
		}
		return api.Principal{Subject: c.Subject, ClientID: c.ClientID, Scopes: c.Scope, JKT: c.JKT, SessionID: c.SessionID, ACR: c.ACR, AuthTime: c.AuthTime}, nil
	}
}
