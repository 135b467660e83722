package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/spf13/cobra"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/audit"
)

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "export, verify or checkpoint the ledger",
		Args:  noArgs,
		RunE:  needSubcommand,
	}
	cmd.AddCommand(newAuditExportCmd(), newAuditVerifyCmd(), newAuditCheckpointCmd())
	return cmd
}

// auditExportFlags are the options of audit export.
type auditExportFlags struct {
	out, subject string
	from, to     uint64
}

func newAuditExportCmd() *cobra.Command {
	var f auditExportFlags
	cmd := &cobra.Command{
		Use:   "export",
		Short: "write the ledger, a segment of it or one subject's envelopes as JSON lines",
		Long: `export writes the ledger as JSON lines (docs/ledger-format.md), to standard
output unless --out is given. --from/--to write a contiguous segment that
verifies on its own (its header line states the first prev_hash); --subject
writes that subject's envelopes (found through the audit read model), each
of which verifies against its own hash. With --out the file is written
beside the target and renamed into place, owner-readable only, so a failed
export never leaves a truncated file. On a terminal, progress is shown on
stderr.`,
		Example: `  authledger audit export --out ledger.jsonl
  authledger audit export --from 1000 --to 2000 --out segment.jsonl
  authledger audit export --subject user-8f14e45f | gzip > subject.jsonl.gz`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (f.from == 0) != (f.to == 0) || (f.from != 0 && f.subject != "") {
				return usagef("--from and --to go together, and not with --subject")
			}
			return runAuditExport(cmd.Context(), f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&f.out, "out", "", "write the export to `FILE` instead of standard output")
	cmd.Flags().Uint64Var(&f.from, "from", 0, "first `POS`ition of a segment")
	cmd.Flags().Uint64Var(&f.to, "to", 0, "last `POS`ition of a segment (inclusive)")
	cmd.Flags().StringVar(&f.subject, "subject", "", "export only the envelopes of `SUBJECT`")
	return cmd
}

func runAuditExport(ctx context.Context, f auditExportFlags, stdout, stderr io.Writer) error {
	out := f.out
	cfg, store, err := configuredLedger(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	src, bar := withProgress(ctx, store, stderr, "export")
	defer bar.done()
	write := func(w io.Writer) (string, error) {
		head, err := audit.Export(ctx, w, src)
		return fmt.Sprintf("exported %d events to %%s; head hash %s", head.Position, head.Hash), err
	}
	switch {
	case f.from != 0:
		write = func(w io.Writer) (string, error) {
			info, err := audit.ExportSegment(ctx, w, store, f.from, f.to)
			return fmt.Sprintf("exported positions %d..%d to %%s; first prev_hash %s", info.From, info.To, info.PrevHash), err
		}
	case f.subject != "":
		write = func(w io.Writer) (string, error) {
			n, err := exportSubject(ctx, cfg, store, w, f.subject)
			return fmt.Sprintf("exported %d envelopes of the subject to %%s", n), err
		}
	}
	if out == "" {
		_, err := write(stdout)
		return err
	}
	// Write beside the target and rename, so a failed export never leaves a
	// truncated file that looks like a (shorter) valid ledger.
	file, err := os.CreateTemp(filepath.Dir(out), ".authledger-export-*")
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer os.Remove(file.Name())
	// Exports hold personal data (subject ids, audit fields): owner only.
	if err := file.Chmod(0o600); err != nil {
		_ = file.Close()
		return fmt.Errorf("export: %w", err)
	}
	summary, err := write(file)
	if err == nil {
		err = file.Sync()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(file.Name(), out)
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	bar.done()
	fmt.Fprintf(stderr, summary+"\n", out)
	return nil
}

// stdin is where `audit verify --file -` reads; tests replace it.
var stdin io.Reader = os.Stdin

const auditVerifyLong = `verify checks positions, versions, links and hashes of the configured
ledger (or of an export with --file; - reads standard input), prints the
head position and hash and exits 0, or prints "position N: what is wrong"
for the first bad event and exits 1.

With --checkpoint (a signed checkpoint: the compact JWS or the JSON answer
of GET /v1/audit/checkpoint), it also proves the ledger still holds exactly
the prefix that checkpoint signed. The checkpoint's signature is verified
before its position and hash are compared with the ledger: one that does
not verify (another key, a key the ledger never published or revoked at or
before its iat) is refused with "checkpoint signature not valid: ..." on
standard error and exit 1, and is never reported as a rewritten or
truncated ledger. An empty export (zero bytes) is an error too. The signing
key is taken from the ledger itself (the public JWK of its keyring
key_published events, published at or before the checkpoint's position),
so a checkpoint signed by a key since retired or dropped from the JWKS
still verifies. A key revoked at or before the checkpoint's iat is refused;
a key revoked later verifies the checkpoint as of its iat only, and verify
says so. Keys from the ledger cannot tell the issuer from someone who
replaced both the ledger and the checkpoint: to pin the issuer's keys, pass
--jwks FILE (a JWK Set or a JWK kept elsewhere), which is then used instead
of the ledger's keys. On a terminal, progress is shown on stderr.`

// auditVerifyFlags are the options of audit verify.
type auditVerifyFlags struct {
	file, checkpoint, jwks string
}

func newAuditVerifyCmd() *cobra.Command {
	var f auditVerifyFlags
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "check the ledger's hash chain, optionally against a signed checkpoint",
		Long:  auditVerifyLong,
		Example: `  authledger audit verify
  authledger audit verify --file ledger.jsonl --checkpoint checkpoint.jws
  curl -s -H "Authorization: Bearer $AUDIT_TOKEN" $AL/v1/audit/checkpoint > cp.json && authledger audit verify --checkpoint cp.json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAuditVerify(cmd.Context(), f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&f.file, "file", "", "verify the export in `EXPORT` (- for standard input) instead of the configured ledger")
	cmd.Flags().StringVar(&f.checkpoint, "checkpoint", "", "signed checkpoint `FILE` the ledger must still hold")
	cmd.Flags().StringVar(&f.jwks, "jwks", "", "verify the checkpoint with the JWK Set in `FILE` instead of the keys the ledger published")
	return cmd
}

func runAuditVerify(ctx context.Context, f auditVerifyFlags, stdout, stderr io.Writer) error {
	file, cpFile, jwksFile := &f.file, &f.checkpoint, &f.jwks
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
		return usagef("--jwks is only used with --checkpoint")
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
		src, bar := withProgress(ctx, store, stderr, "verify")
		head, err = audit.Verify(ctx, src, opt)
		bar.done()
	default:
		f, ferr := os.Open(*file)
		if ferr != nil {
			return fmt.Errorf("verify: %w", ferr)
		}
		defer f.Close()
		var size int64
		if st, serr := f.Stat(); serr == nil {
			size = st.Size()
		}
		bar := newProgress(stderr, size, "verify", "bytes")
		head, err = verifyFile(&countingReader{r: f, p: bar}, opt, stdout)
		bar.done()
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
