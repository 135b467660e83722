package api

import (
	"context"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/domain/token"
	"github.com/authledger/authledger/queries"
)

// The use cases the handlers call. Each is one command handler or query of
// commands/ or queries/; the api package depends on these shapes only, so
// a handler file is tested against the real use case or a stand-in alike.
type (
	// Handler is a command that returns a result.
	Handler[C, R any] interface {
		Handle(ctx context.Context, cmd C, meta commands.Metadata) (R, error)
	}
	// Action is a command that returns only whether it happened.
	Action[C any] interface {
		Handle(ctx context.Context, cmd C, meta commands.Metadata) error
	}
	// Introspector answers RFC 7662 requests (queries.Introspector).
	Introspector interface {
		Introspect(ctx context.Context, raw, hint string, caller queries.Caller) (queries.Introspection, error)
	}
	// AccessChecker checks bearer tokens for /v1 (queries.AccessChecker).
	AccessChecker interface {
		Check(ctx context.Context, raw string) (token.AccessClaims, error)
	}
	// SessionResolver resolves a session cookie (commands.SessionResolver).
	SessionResolver interface {
		Resolve(ctx context.Context, rawToken string) (session.Record, error)
	}
	// SessionLister lists a subject's sessions (queries.Sessions).
	SessionLister interface {
		List(ctx context.Context, subject string) ([]session.Record, error)
	}
)

// ServiceCommands are the service-registry use cases of the admin API
// (commands.Services).
type ServiceCommands interface {
	Register(ctx context.Context, cmd commands.RegisterService, meta commands.Metadata) (commands.RegisteredService, error)
	RotateSecret(ctx context.Context, cmd commands.RotateSecret, meta commands.Metadata) (commands.RotatedSecret, error)
	AddKeys(ctx context.Context, cmd commands.AddServiceKeys, meta commands.Metadata) (commands.ServiceChange, error)
	RemoveKey(ctx context.Context, cmd commands.RemoveServiceKey, meta commands.Metadata) (commands.ServiceChange, error)
	Disable(ctx context.Context, cmd commands.DisableService, meta commands.Metadata) (commands.ServiceChange, error)
}

// M2MIssuer is the client_credentials grant (commands.ClientCredentialsGrant).
type M2MIssuer interface {
	Issue(ctx context.Context, cmd commands.IssueClientCredentials, meta commands.Metadata) (commands.IssuedM2M, error)
}

// SessionUseCases are what the sessions API calls.
type SessionUseCases struct {
	Start       Handler[commands.StartSession, commands.StartedSession]
	Elevate     Handler[commands.ElevateSession, commands.ElevatedSession]
	End         Action[commands.EndSession]
	AccessToken Handler[string, commands.TokenPair]
	Resolve     SessionResolver
	List        SessionLister
	Access      AccessChecker
}
