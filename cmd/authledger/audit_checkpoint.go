package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	cmds "github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/readmodels/jwks"
)

// runAuditCheckpoint is `authledger audit checkpoint`: sign the current
// head with the active key, record it in the checkpoints stream (so GET
// /v1/audit/checkpoints lists it too) and print it as GET
// /v1/audit/checkpoint answers, which `audit verify --checkpoint` reads.
func newAuditCheckpointCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "checkpoint",
		Short: "sign the ledger head now, record it and print it",
		Long: `checkpoint signs the ledger head now with the active key, records it where
GET /v1/audit/checkpoints lists it, and prints it as GET
/v1/audit/checkpoint answers ({"checkpoint": JWS, ...}); keep it, and later
pass it to verify --checkpoint. The service also signs one every
AUTHLEDGER_CHECKPOINT_EVERY (10 min) while the ledger grows.`,
		Example: "  authledger audit checkpoint > checkpoint-$(date +%F).json",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAuditCheckpoint(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
}

func runAuditCheckpoint(ctx context.Context, stdout, stderr io.Writer) error {
	// A checkpoint of a ledger that does not exist would sign nothing.
	cfg, store, err := configuredLedger(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	sp, err := openSecrets(ctx, cfg, nil, nil)
	if err != nil {
		return err
	}
	model := jwks.New()
	if err := model.Reload(ctx, store); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	signer, err := cmds.NewJWTSigner(cmds.JWTSignerConfig{Issuer: cfg.Issuer, Store: store, Secrets: sp, Keys: model})
	if err != nil {
		return err
	}
	h, err := cmds.NewSignCheckpointHandler(store, signer, cfg.checkpointEvery(), time.Now)
	if err != nil {
		return err
	}
	out, err := h.Handle(ctx, cmds.SignCheckpoint{Force: true}, cmds.Metadata{Actor: "cli:" + cliActor()})
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(map[string]any{"checkpoint": out.JWS, "position": out.Position, "hash": out.Hash})
}
