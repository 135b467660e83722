// Command authledger is the event-sourced token service: `serve` and the
// operator subcommands of DESIGN.md §5.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand. run returns an exitError to choose the exit
// code; any other error exits 1 after printing it.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// exitError carries a specific exit code; its message (if any) is already printed.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func commands() map[string]command {
	return map[string]command{
		"serve":       {"run the HTTP service", runServe},
		"audit":       {"export or verify the ledger (audit export|verify)", runAudit},
		"projections": {"inspect or rebuild read models (projections status|rebuild NAME)", runProjections},
		"keys":        {"list, rotate or revoke signing keys (keys list|rotate|revoke KID)", runKeys},
		"services":    {"manage service clients (services register|list|show|rotate-secret|add-key|disable)", runServices},
		"subjects":    {"enrol a subject's first passkey (subjects enrol SUBJECT)", runSubjects},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "authledger: unknown command %q\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	err := c.run(ctx, args[1:], stdout, stderr)
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	default:
		fmt.Fprintf(stderr, "authledger %s: %v\n", args[0], err)
		return 1
	}
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: authledger COMMAND [ARGS]\n\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nconfiguration: AUTHLEDGER_* environment variables (see README.md)")
}
