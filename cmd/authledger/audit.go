package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/audit"
)

const auditUsage = `usage:
  authledger audit export [--out FILE] [--from POS --to POS | --subject S]
  authledger audit verify [--file EXPORT] [--checkpoint FILE [--jwks FILE]]
  authledger audit checkpoint

checkpoint signs the ledger head now with the active key, records it where
GET /v1/audit/checkpoints lists it, and prints it as GET
/v1/audit/checkpoint answers ({"checkpoint": JWS, ...}); keep it, and later
pass it to verify --checkpoint. The service also signs one every
AUTHLEDGER_CHECKPOINT_EVERY (10 min) while the ledger grows.

export writes the ledger as JSON lines (docs/ledger-format.md), to standard
output unless --out is given. --from/--to write a contiguous segment that
verifies on its own (its header line states the first prev_hash);
--subject writes that subject's envelopes (found through the audit read
model), each of which verifies against its own hash. verify checks positions, versions, links and
hashes of the configured ledger (or of an export with --file; - reads
standard input), prints the head position and hash and exits 0, or prints
"position N: what is wrong" for the first bad event and exits 1.

With --checkpoint (a signed checkpoint: the compact JWS or the JSON answer
of GET /v1/audit/checkpoint), it also proves the ledger still holds exactly
the prefix that checkpoint signed. The checkpoint's signature is verified
before its position and hash are compared with the ledger: one that does
not verify (another key, a key the ledger never published or revoked at or
before its iat) is refused with "checkpoint signature not valid: ..." on
standard error and exit 1, and is never reported as a rewritten or
truncated ledger. An empty export (zero bytes) is an error too. The signing key is taken from the ledger
itself (the public JWK of its keyring key_published events, published at or
before the checkpoint's position), so a checkpoint signed by a key since
retired or dropped from the JWKS still verifies. A key revoked at or before
the checkpoint's iat is refused; a key revoked later verifies the checkpoint
as of its iat only, and verify says so. Keys from the ledger cannot tell the
issuer from someone who replaced both the ledger and the checkpoint: to pin
the issuer's keys, pass --jwks FILE (a JWK Set or a JWK kept elsewhere),
which is then used instead of the ledger's keys.
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
	case "checkpoint":
		return runAuditCheckpoint(ctx, args[1:], stdout, stderr)
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
	from := fs.Uint64("from", 0, "first `POS`ition of a segment")
	to := fs.Uint64("to", 0, "last `POS`ition of a segment (inclusive)")
	subject := fs.String("subject", "", "export only the envelopes of `SUBJECT`")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return exitError{2}
	}
	if (*from == 0) != (*to == 0) || (*from != 0 && *subject != "") {
		fmt.Fprintln(stderr, "authledger audit export: --from and --to go together, and not with --subject")
		return exitError{2}
	}
	cfg, err := LoadConfig()
	if err != nil {
		return err
	}
	store, err := openExistingStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	write := func(w io.Writer) (string, error) {
		head, err := audit.Export(ctx, w, store)
		return fmt.Sprintf("exported %d events to %%s; head hash %s", head.Position, head.Hash), err
	}
	switch {
	case *from != 0:
		write = func(w io.Writer) (string, error) {
			info, err := audit.ExportSegment(ctx, w, store, *from, *to)
			return fmt.Sprintf("exported positions %d..%d to %%s; first prev_hash %s", info.From, info.To, info.PrevHash), err
		}
	case *subject != "":
		write = func(w io.Writer) (string, error) {
			n, err := exportSubject(ctx, cfg, store, w, *subject)
			return fmt.Sprintf("exported %d envelopes of the subject to %%s", n), err
		}
	}
	if *out == "" {
		_, err := write(stdout)
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
	summary, err := write(f)
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
	fmt.Fprintf(stderr, summary+"\n", *out)
	return nil
}

// stdin is where `audit verify --file -` reads; tests replace it.
var stdin io.Reader = os.Stdin

func runAuditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("file", "", "verify the export in `EXPORT` (- for standard input) instead of the configured ledger")
	cpFile := fs.String("checkpoint", "", "signed checkpoint `FILE` the ledger must still hold")
	jwksFile := fs.String("jwks", "", "verify the checkpoint with the JWK Set in `FILE` instead of the keys the ledger published")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return exitError{2}
	}
	var (
		opt       audit.Options
		keySource string // where the checkpoint's key came from, for the ok line
	)
	switch {
	case *cpFile != "":
		raw, err := os.ReadFile(*cpFile)
		if err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		signed, err := audit.ReadCheckpoint(raw)
		if err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		if *jwksFile == "" {
			// The keys are collected from the ledger in the same pass; the
			// verifier checks the signature with them before it compares
			// the claims with the ledger.
			opt.Signed, opt.Keys = signed, &audit.LedgerKeys{}
			keySource = "key published in the ledger"
			break
		}
		set, err := loadJWKS(*jwksFile)
		if err != nil {
			return err
		}
		cp, err := signed.Verify(set)
		if err != nil {
			return checkpointRefused(stderr, err)
		}
		opt.Checkpoint = &cp
		keySource = "JWKS " + *jwksFile
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
		head, err = verifyFile(stdin, opt, stdout)
	case "":
		cfg, cerr := LoadConfig()
		if cerr != nil {
			return cerr
		}
		store, serr := openExistingStore(ctx, cfg)
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
		head, err = verifyFile(f, opt, stdout)
	}
	var broken *audit.Error
	switch {
	case errors.Is(err, errEnvelopesVerified):
		return nil
	case errors.As(err, &broken):
		fmt.Fprintln(stdout, broken.Error())
		return exitError{1}
	case errors.Is(err, audit.ErrBadCheckpoint):
		return checkpointRefused(stderr, err)
	case err != nil:
		return err
	case *file != "" && head.Position == 0:
		// A server's first start publishes a signing key, so a ledger worth
		// exporting holds at least one event: an empty file is a failed or
		// truncated-to-nothing export, never "ok: head position 0".
		return fmt.Errorf("verify: export %s holds no events: an empty file is not a ledger export", *file)
	}
	fmt.Fprintf(stdout, "ok: head position %d hash %s\n", head.Position, head.Hash)
	cp := opt.Checkpoint
	if opt.Signed != nil {
		cp = &opt.Signed.Claims // verified: the verifier refuses it otherwise
	}
	if cp != nil {
		fmt.Fprintf(stdout, "ok: checkpoint position %d hash %s (key %q from the %s, issued %s) is a prefix of the ledger\n",
			cp.Position, cp.Hash, cp.KeyID, keySource, cp.IssuedAt.Format(time.RFC3339))
		if opt.Signed != nil {
			if at, revoked := opt.Keys.Revocation(cp.KeyID); revoked {
				fmt.Fprintf(stdout, "warning: key %q was revoked at %s, after the checkpoint was issued: it is verified as of its iat only, and whoever stole the key could have back-dated it\n",
					cp.KeyID, at.UTC().Format(time.RFC3339))
			}
		}
	}
	return nil
}

// checkpointRefused reports a checkpoint whose signature or signing key
// does not hold. It has its own line, never a "position N:" one: such a
// checkpoint says nothing about the ledger, so it is not compared with it.
func checkpointRefused(stderr io.Writer, err error) error {
	fmt.Fprintf(stderr, "checkpoint signature not valid: %v\n", err)
	return exitError{1}
}

// loadJWKS reads the --jwks file: a JWK Set, or a single JWK as for
// `services register --jwk`.
func loadJWKS(jwksFile string) (jose.JSONWebKeySet, error) {
	b, err := os.ReadFile(jwksFile)
	if err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("jwks: %w", err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil || len(set.Keys) == 0 {
		var k jose.JSONWebKey
		if kerr := json.Unmarshal(b, &k); kerr != nil || k.Key == nil {
			return jose.JSONWebKeySet{}, fmt.Errorf("jwks %s: want a JWK Set or a JWK", jwksFile)
		}
		set.Keys = []jose.JSONWebKey{k}
	}
	return set, nil
}
