package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"

	"github.com/go-jose/go-jose/v4"

	"authledger/eventstore"
	"authledger/eventstore/audit"
)

const auditUsage = `usage:
  authledger audit export [--out FILE]
  authledger audit verify [--file EXPORT] [--checkpoint FILE --jwks FILE]

export writes the ledger as JSON lines (docs/ledger-format.md), to standard
output unless --out is given. verify checks positions, versions, links and
hashes of the configured ledger (or of an export with --file; - reads
standard input), prints the head position and hash and exits 0, or prints
"position N: what is wrong" for the first bad event and exits 1. With --checkpoint (a signed checkpoint:
the compact JWS or the JSON answer of GET /v1/audit/checkpoint) and --jwks
(the JWK Set to verify it with), it also proves the ledger still holds
exactly the prefix that checkpoint signed.
`

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, auditUsage)
		return exitError{2}
	}
	switch args[0] {
	case "export":
		return runAuditExport(ctx, args[1:], stdout, stderr)
	case "verify":
		return runAuditVerify(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, auditUsage)
		return nil
	default:
		fmt.Fprintf(stderr, "authledger audit: unknown subcommand %q\n%s", args[0], auditUsage)
		return exitError{2}
	}
}

func runAuditExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "write the export to `FILE` instead of standard output")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return exitError{2}
	}
	store, err := openExistingStore(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	if *out == "" {
		_, err := audit.Export(ctx, stdout, store)
		return err
	}
	// Write beside the target and rename, so a failed export never leaves a
	// truncated file that looks like a (shorter) valid ledger.
	f, err := os.CreateTemp(filepath.Dir(*out), ".authledger-export-*")
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer os.Remove(f.Name())
	// Exports hold personal data (subject ids, audit fields): owner only.
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return fmt.Errorf("export: %w", err)
	}
	head, err := audit.Export(ctx, f, store)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), *out)
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	fmt.Fprintf(stderr, "exported %d events to %s; head hash %s\n", head.Position, *out, head.Hash)
	return nil
}

// stdin is where `audit verify --file -` reads; tests replace it.
var stdin io.Reader = os.Stdin

func runAuditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("file", "", "verify the export in `EXPORT` (- for standard input) instead of the configured ledger")
	cpFile := fs.String("checkpoint", "", "signed checkpoint `FILE` the ledger must still hold")
	jwksFile := fs.String("jwks", "", "JWK Set `FILE` that verifies the checkpoint (required with --checkpoint)")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return exitError{2}
	}
	var opt audit.Options
	switch {
	case *cpFile != "" && *jwksFile == "":
		fmt.Fprintln(stderr, "authledger audit verify: --checkpoint needs --jwks FILE to verify its signature")
		return exitError{2}
	case *cpFile != "":
		cp, err := loadCheckpoint(*cpFile, *jwksFile)
		if err != nil {
			return err
		}
		opt.Checkpoint = &cp
	case *jwksFile != "":
		fmt.Fprintln(stderr, "authledger audit verify: --jwks is only used with --checkpoint")
		return exitError{2}
	}

	var (
		head eventstore.Head
		err  error
	)
	switch *file {
	case "-":
		head, err = audit.VerifyExport(stdin, opt)
	case "":
		store, serr := openExistingStore(ctx)
		if serr != nil {
			return serr
		}
		defer store.Close()
		head, err = audit.Verify(ctx, store, opt)
	default:
		f, ferr := os.Open(*file)
		if ferr != nil {
			return fmt.Errorf("verify: %w", ferr)
		}
		defer f.Close()
		head, err = audit.VerifyExport(f, opt)
	}
	var broken *audit.Error
	switch {
	case errors.As(err, &broken):
		fmt.Fprintln(stdout, broken.Error())
		return exitError{1}
	case err != nil:
		return err
	}
	fmt.Fprintf(stdout, "ok: head position %d hash %s\n", head.Position, head.Hash)
	if cp := opt.Checkpoint; cp != nil {
		fmt.Fprintf(stdout, "ok: checkpoint position %d hash %s (key %q, issued %s) is a prefix of the ledger\n",
			cp.Position, cp.Hash, cp.KeyID, cp.IssuedAt.Format("2006-01-02T15:04:05Z"))
	}
	return nil
}

func loadCheckpoint(cpFile, jwksFile string) (audit.Checkpoint, error) {
	raw, err := os.ReadFile(cpFile)
	if err != nil {
		return audit.Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	b, err := os.ReadFile(jwksFile)
	if err != nil {
		return audit.Checkpoint{}, fmt.Errorf("jwks: %w", err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil || len(set.Keys) == 0 {
		// A single JWK is accepted too, as for `services register --jwk`.
		var k jose.JSONWebKey
		if kerr := json.Unmarshal(b, &k); kerr != nil || k.Key == nil {
			return audit.Checkpoint{}, fmt.Errorf("jwks %s: want a JWK Set or a JWK", jwksFile)
		}
		set.Keys = []jose.JSONWebKey{k}
	}
	return audit.ParseCheckpoint(raw, set)
}

// openExistingStore opens the configured ledger for reading. An SQLite file
// that does not exist is an error rather than a new empty ledger, which
// would "verify" a mistyped path as a valid ledger of zero events.
func openExistingStore(ctx context.Context) (eventstore.Store, error) {
	cfg, err := LoadConfig()
	if err != nil {
		return nil, err
	}
	if u, err := url.Parse(cfg.Store); err == nil && u.Scheme == "sqlite" {
		if _, err := os.Stat(sqlitePath(u)); err != nil {
			return nil, fmt.Errorf("no ledger at %s: %w", sqlitePath(u), err)
		}
	}
	store, err := openStore(ctx, cfg.Store)
	if err != nil {
		return nil, fmt.Errorf("open ledger: %w", err)
	}
	return store, nil
}
