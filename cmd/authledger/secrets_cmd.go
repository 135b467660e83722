package main

import (
	"github.com/spf13/cobra"
)

// newSecretsCmd puts secrets_cli.go's subcommands on cobra: cobra parses
// and checks the command line, then hands runSecrets the canonical
// arguments it has always taken.
func newSecretsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "secret references and versions: list, rollback, rotate the sealing key, migrate",
		Long:  secretsUsage,
		Args:  noArgs,
		RunE:  needSubcommand,
	}
	list := &cobra.Command{
		Use:     "list",
		Short:   "every secret reference and version, never a value",
		Example: "  authledger secrets list\n  authledger secrets list -o json",
		Args:    exactArgs(),
	}
	out := addOutputFlags(list, "table")
	list.RunE = func(c *cobra.Command, _ []string) error {
		format, err := out.resolve()
		if err != nil {
			return err
		}
		args := []string{"list"}
		if format == "json" {
			args = append(args, "--json")
		}
		return runSecrets(c.Context(), args, c.OutOrStdout(), c.ErrOrStderr())
	}
	rollback := &cobra.Command{
		Use:     "rollback NAME VERSION",
		Short:   "make an earlier version of a secret the newest, recorded in the ledger",
		Example: "  authledger secrets rollback refresh-sealing-key 3",
		Args:    exactArgs("NAME", "VERSION"),
		RunE: func(c *cobra.Command, args []string) error {
			return runSecrets(c.Context(), append([]string{"rollback"}, args...), c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	rotate := &cobra.Command{
		Use:   "rotate-sealing-key",
		Short: "add a new refresh-token sealing key; tokens sealed before still open",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			return runSecrets(c.Context(), []string{"rotate-sealing-key"}, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	var from string
	var dryRun bool
	migrate := &cobra.Command{
		Use:     "migrate --from local:///dir [--dry-run]",
		Short:   "copy every secret of a local provider into the configured one and read each back",
		Example: "  authledger secrets migrate --from local:///var/lib/authledger/secrets --dry-run",
		Args:    exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			if from == "" {
				return usagef("--from is required")
			}
			args := []string{"migrate", "--from", from}
			if dryRun {
				args = append(args, "--dry-run")
			}
			return runSecrets(c.Context(), args, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	migrate.Flags().StringVar(&from, "from", "", "the local provider to copy from (local:///dir)")
	migrate.Flags().BoolVar(&dryRun, "dry-run", false, "say what would be copied, write nothing")
	cmd.AddCommand(list, rollback, rotate, migrate)
	return cmd
}
