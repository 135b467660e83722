// Command authledger is the event-sourced token service: `serve` and the
// operator subcommands of DESIGN.md §5.
//
// Exit codes: 0 ok (help included); 1 a failed check or operation; 2 a
// usage error (an unknown command or flag, a missing or extra argument,
// contradicting flags).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// exitError carries a specific exit code; its message (if any) is already printed.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// usageError is a mistake in the command line rather than in what the
// command did: exit 2, with a pointer to the command's help.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns its exit code; tests call it
// as the binary would be called.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if cmd == nil {
		cmd = root
	}
	code := exitCode(err)
	var ee exitError
	switch {
	case err == nil || errors.As(err, &ee):
		// exitError's message, if any, is already printed.
	case code == 2:
		fmt.Fprintf(stderr, "%s: %v\nRun '%s --help' for usage.\n", cmd.CommandPath(), err, cmd.CommandPath())
	default:
		fmt.Fprintf(stderr, "%s: %v\n", cmd.CommandPath(), err)
	}
	return code
}

// exitCode is the documented exit code for what a command returned.
func exitCode(err error) int {
	var ee exitError
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue) || isCobraUsageError(err):
		return 2
	default:
		return 1
	}
}

// isCobraUsageError recognises the errors cobra itself returns for a bad
// command line, which it does not type.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "unknown command ") || strings.HasPrefix(msg, "unknown flag") ||
		strings.HasPrefix(msg, "unknown shorthand flag") || strings.HasPrefix(msg, "invalid argument ")
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "authledger",
		Short: "the event-sourced token service and its operator commands",
		Long: `authledger serves the token endpoints (authledger serve) and operates on
the ledger, its read models, the signing keys and the service clients. Every
command works against the configured store (AUTHLEDGER_* environment
variables, see authledger config) while servers run on it.

Exit codes: 0 ok; 1 a failed check or operation; 2 a usage error.`,
		Version:           buildVersion(),
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: false},
		Args:              noArgs,
		RunE:              needSubcommand,
	}
	root.SetVersionTemplate("authledger {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newServeCmd(), newConfigCmd(), newAuditCmd(), newProjectionsCmd(), newKeysCmd(), newServicesCmd(), newLedgerCmd(), newSecretsCmd(), newSubjectsCmd())
	return root
}

// needSubcommand is the RunE of a command that only groups others: called
// bare or with an unknown subcommand, it is a usage error (cobra would
// otherwise print the help and exit 0).
func needSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	cmd.SetOut(cmd.ErrOrStderr())
	_ = cmd.Help()
	return usagef("a subcommand is required")
}

// The argument checks return usage errors, so a wrong count exits 2.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 && !cmd.HasSubCommands() {
		return usagef("unexpected argument %q", args[0])
	}
	return nil
}

func exactArgs(names ...string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) < len(names) {
			return usagef("%s is required", strings.Join(names[len(args):], " "))
		}
		if len(args) > len(names) {
			return usagef("unexpected argument %q", args[len(names)])
		}
		return nil
	}
}
