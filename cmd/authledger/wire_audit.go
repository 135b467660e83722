package main

import (
	"fmt"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/readmodels/audit"
)

// buildAudit adds the audit read model (audit.v1), the auditors' query
// endpoint and the privacy dashboard's /v1/me endpoints, which reuse the
// token part's session use cases for the caller's own sessions.
func buildAudit(in *infraParts, clients clientParts, tokens tokenParts) (contributions, error) {
	if err := in.runner.Register(audit.Projection{}); err != nil {
		return contributions{}, fmt.Errorf("audit: %w", err)
	}
	reader := audit.NewStore(in.runner.DB())
	uc := tokens.sessions
	return contributions{routes: []api.Routes{
		api.AuditEvents{Reader: reader, Guard: clients.requireScope(api.AuditReadScope)},
		api.Me{Access: uc.Access, Audit: reader, Sessions: uc.List, End: uc.End},
	}}, nil
}
