package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	cmds "github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/eventstore"
)

const subjectsUsage = `usage:
  authledger subjects enrol SUBJECT

enrol prints a one-time link under the issuer that registers SUBJECT's
first passkey (AUTHLEDGER_LOGIN=passkeys): valid 15 minutes, single use.
Only the SHA-256 of its secret is recorded in the ledger. It works against
the configured ledger (AUTHLEDGER_STORE) while the server runs.`

func runSubjects(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, subjectsUsage)
		return exitError{2}
	}
	switch args[0] {
	case "enrol", "enroll":
	default:
		fmt.Fprintf(stderr, "authledger subjects: unknown subcommand %q\n%s\n", args[0], subjectsUsage)
		return exitError{2}
	}
	if len(args) != 2 {
		fmt.Fprintln(stderr, subjectsUsage)
		return exitError{2}
	}
	cfg, err := LoadConfig()
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg.Store)
	if err != nil {
		return fmt.Errorf("open ledger: %w", err)
	}
	runErr := enrolSubject(ctx, store, cfg, args[1], stdout, stderr)
	return errors.Join(runErr, store.Close())
}

// enrolSubject mints the link and prints it with its expiry.
func enrolSubject(ctx context.Context, store eventstore.Store, cfg Config, subject string, stdout, stderr io.Writer) error {
	if strings.TrimSpace(cfg.Login) == "" {
		fmt.Fprintln(stderr, "note: AUTHLEDGER_LOGIN is not \"passkeys\"; the link works once the server runs with it")
	}
	link, err := cmds.NewIssueEnrolmentHandler(store, time.Now).Handle(ctx, subject, cmds.Metadata{Actor: "cli:" + cliActor()})
	if err != nil {
		return err
	}
	base := strings.TrimRight(cfg.Issuer, "/")
	fmt.Fprintf(stdout, "%s/login/enrol?code=%s\n", base, url.QueryEscape(link.Code()))
	fmt.Fprintf(stderr, "enrolment link for %s, single use, valid until %s\n", subject, link.ExpiresAt.Format(time.RFC3339))
	return nil
}
