package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/spf13/cobra"

	cmds "github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/keyring"
	"github.com/authledger/authledger/eventstore"
)

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "list, rotate or revoke the signing keys",
		Long: `Signing keys rotate by themselves (AUTHLEDGER_KEY_ROTATION_INTERVAL). These
commands work against the configured ledger while servers run; the servers
serve the new key set within a second.`,
		Args: noArgs,
		RunE: needSubcommand,
	}
	cmd.AddCommand(newKeysListCmd(), newKeysRotateCmd(), newKeysRevokeCmd())
	return cmd
}

func newKeysListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "the signing keys with their states and times",
		Example: "  authledger keys list\n  authledger keys list -o json",
		Args:    exactArgs(),
	}
	cmd.RunE = readOnlyRun(addOutputFlags(cmd, "table"), func(ctx context.Context, _ Config, store eventstore.Store, asJSON bool, stdout io.Writer) error {
		return keysList(ctx, store, asJSON, stdout)
	})
	return cmd
}

func newKeysRotateCmd() *cobra.Command {
	var now bool
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "publish a new signing key",
		Long: `rotate publishes a new next key at once; it starts signing after the
publication lead (AUTHLEDGER_KEY_PUBLICATION_LEAD), or at once with
--immediately, an emergency after a compromise: resource servers that have
not refreshed their JWKS cache yet refuse its tokens until they do.
--immediately also drops a published key that has not signed yet, and says
so. Without --immediately, a pending key refuses a second one.`,
		Example: "  authledger keys rotate\n  authledger keys rotate --immediately",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withKeys(cmd.Context(), func(keys *cmds.Keys, meta cmds.Metadata) error {
				stdout := cmd.OutOrStdout()
				var pending keyring.Key
				hadPending := false
				if ring, err := keys.Load(cmd.Context()); err == nil {
					pending, hadPending = ring.Next()
				}
				k, err := keys.Rotate(cmd.Context(), cmds.RotateKeys{Immediately: now}, meta)
				if err != nil {
					return err
				}
				if k.State == keyring.StateActive {
					fmt.Fprintf(stdout, "%s active now\n", k.KID)
				} else {
					fmt.Fprintf(stdout, "%s published; signs from %s\n", k.KID, k.ActivateAt.UTC().Format(time.RFC3339))
				}
				if now && hadPending && pending.KID != k.KID {
					fmt.Fprintf(stdout, "%s dropped: it was published to sign from %s and never signed\n", pending.KID, pending.ActivateAt.UTC().Format(time.RFC3339))
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&now, "immediately", false, "activate the new key at once (after a compromise)")
	return cmd
}

func newKeysRevokeCmd() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "revoke KID",
		Short: "take a key out of the JWKS at once; its tokens fail verification",
		Long: `revoke removes a key from the JWKS at once; every token it signed fails
verification. A revoked signing key is replaced by a fresh one in the same
step. Revoking a key that is already revoked changes nothing and says so.`,
		Example: `  authledger keys revoke k-2026-12-01 --reason "private key exposed in a backup"`,
		Args:    exactArgs("KID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			kid := args[0]
			return withKeys(cmd.Context(), func(keys *cmds.Keys, meta cmds.Metadata) error {
				stdout := cmd.OutOrStdout()
				res, err := keys.Revoke(cmd.Context(), cmds.RevokeKey{KID: kid, Reason: reason}, meta)
				if errors.Is(err, keyring.ErrKeyRevoked) {
					fmt.Fprintf(stdout, "%s already revoked; nothing changed\n", kid)
					return nil
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "%s revoked\n", kid)
				if res.Replacement != "" {
					fmt.Fprintf(stdout, "%s active now (replaces the revoked signing key)\n", res.Replacement)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded in the ledger)")
	return cmd
}

// withKeys opens what a key change needs: the ledger, the secret provider
// and, when configured, Redis, over which the change reaches running
// servers at once (without it they learn it from the ledger feed).
func withKeys(ctx context.Context, fn func(*cmds.Keys, cmds.Metadata) error) error {
	cfg, err := LoadConfig()
	if err != nil {
		return err
	}
	policy, err := cfg.KeysConfig.policy()
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg.Store)
	if err != nil {
		return fmt.Errorf("open ledger: %w", err)
	}
	defer store.Close()
	sp, err := openSecrets(ctx, cfg, nil, nil)
	if err != nil {
		return err
	}
	rdb, err := openRedis(cfg)
	if err != nil {
		return err
	}
	if rdb != nil {
		defer rdb.Close()
	}
	var pub message.Publisher
	if rdb != nil {
		b, err := openBus(rdb, nil)
		if err != nil {
			return err
		}
		defer b.Close()
		pub = b
	}
	keys, err := newKeys(store, sp, policy, pub)
	if err != nil {
		return err
	}
	return fn(keys, cmds.Metadata{Actor: "cli"})
}

type keyView struct {
	KID         string     `json:"kid"`
	State       string     `json:"state"`
	PublishedAt time.Time  `json:"published_at"`
	ActivateAt  time.Time  `json:"activate_at"`
	RetiredAt   *time.Time `json:"retired_at,omitempty"`
	DropAt      *time.Time `json:"drop_at,omitempty"`
	EndedAt     *time.Time `json:"ended_at,omitempty"`
	Secret      string     `json:"secret_ref"`
}

func keysList(ctx context.Context, store eventstore.Store, asJSON bool, stdout io.Writer) error {
	ring, err := cmds.LoadRing(ctx, store)
	if err != nil {
		return err
	}
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	views := []keyView{}
	for _, k := range ring.Keys() {
		views = append(views, keyView{KID: k.KID, State: string(k.State), PublishedAt: k.PublishedAt, ActivateAt: k.ActivateAt,
			RetiredAt: opt(k.RetiredAt), DropAt: opt(k.DropAt), EndedAt: opt(k.EndedAt), Secret: k.Secret.Name + "@" + k.Secret.Version})
	}
	if asJSON {
		return writeJSON(stdout, views)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tSTATE\tPUBLISHED\tSIGNS FROM\tLEAVES JWKS")
	ts := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, v := range views {
		leaves := ts(v.DropAt)
		if v.EndedAt != nil {
			leaves = ts(v.EndedAt)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.KID, v.State, ts(&v.PublishedAt), ts(&v.ActivateAt), leaves)
	}
	return tw.Flush()
}
