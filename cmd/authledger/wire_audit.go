package main

import (
	"context"
	"fmt"
	"time"

	"github.com/authledger/authledger/api"
	cmds "github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/readmodels/audit"
)

// AuditConfig is the audit part of the configuration.
type AuditConfig struct {
	// CheckpointEvery is the period of the signed checkpoints recorded in
	// the ledger (GET /v1/audit/checkpoints); one instance signs each.
	CheckpointEvery time.Duration `env:"CHECKPOINT_EVERY" envDefault:"10m"`
}

// defaultCheckpointEvery is the period when none is configured (a Config
// built in code, whose zero value means the default).
const defaultCheckpointEvery = 10 * time.Minute

func (c AuditConfig) checkpointEvery() time.Duration {
	if c.CheckpointEvery == 0 {
		return defaultCheckpointEvery
	}
	return c.CheckpointEvery
}

func (c AuditConfig) validate() []error {
	if e := c.checkpointEvery(); e < time.Second || e > 24*time.Hour {
		return []error{fmt.Errorf("%sCHECKPOINT_EVERY: must be between 1s and 24h", envPrefix)}
	}
	return nil
}

// buildAudit adds the audit read model (audit.v1), the auditors' query
// and checkpoint endpoints, the periodic checkpoint signer, and the
// privacy dashboard's /v1/me endpoints, which reuse the token part's
// session use cases for the caller's own sessions; the account page's
// recent activity (login) reads the same model.
func buildAudit(in *infraParts, keys keyParts, clients clientParts, tokens tokenParts) (contributions, error) {
	if err := in.runner.Register(audit.Projection{}); err != nil {
		return contributions{}, fmt.Errorf("audit: %w", err)
	}
	signer, err := cmds.NewSignCheckpointHandler(in.store, keys.signer, in.cfg.checkpointEvery(), time.Now)
	if err != nil {
		return contributions{}, err
	}
	reader := audit.NewStore(in.runner.DB())
	if tokens.activity != nil {
		tokens.activity.UseAudit(reader) // the account page reads the same trail as /v1/me/audit
	}
	uc := tokens.sessions
	guard := clients.requireScope(api.AuditReadScope)
	return contributions{
		routes: []api.Routes{
			api.AuditEvents{Reader: reader, Guard: guard},
			api.AuditCheckpoints{Lister: reader, Guard: guard},
			api.Me{Access: uc.Access, Audit: reader, Sessions: uc.List, End: uc.End},
		},
		tasks: []task{{"checkpoint signer", func(ctx context.Context) error {
			return signer.RunCheckpoints(ctx, func(err error) { in.log.Warn("checkpoint not signed", "err", err) })
		}}},
	}, nil
}
