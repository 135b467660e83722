package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/audit"
)

func newLedgerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "move the ledger between stores",
		Args:  noArgs,
		RunE:  needSubcommand,
	}
	cmd.AddCommand(newLedgerCopyCmd())
	return cmd
}

func newLedgerCopyCmd() *cobra.Command {
	var from, to string
	cmd := &cobra.Command{
		Use:   "copy --from URL --to URL",
		Short: "copy the ledger to another store, verifying the chain on the way",
		Long: `copy reads every event of the ledger at --from, verifies the hash chain as
it goes, and writes the same records — positions, times and hashes
included — to --to, so checkpoints signed on one verify on the other. The
target must be empty or hold a prefix of the source (an interrupted copy
continues where it stopped). Any store URL works on either side:
sqlite:///path, postgres://…, esdb://… (docs/esdb.md). Stop the servers
writing to the source first, or copy again afterwards to catch up. On a
terminal, progress is shown on stderr.`,
		Example: `  authledger ledger copy --from postgres://authledger@db/authledger --to 'esdb://kurrent:2113?tls=false'
  authledger ledger copy --from sqlite:///var/lib/authledger/ledger.db --to postgres://authledger@db/authledger`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" || to == "" {
				return usagef("--from and --to are required")
			}
			if from == to {
				return usagef("--from and --to name the same store")
			}
			return ledgerCopy(cmd.Context(), from, to, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the source ledger `URL`")
	cmd.Flags().StringVar(&to, "to", "", "the target ledger `URL` (created when absent)")
	return cmd
}

// copyPage is how many records one import carries: one transaction (or
// one EventStoreDB append) each.
const copyPage = 1000

func ledgerCopy(ctx context.Context, from, to string, stdout, stderr io.Writer) error {
	if u, perr := url.Parse(from); perr == nil && u.Scheme == "sqlite" {
		if _, err := os.Stat(sqlitePath(u)); err != nil {
			return fmt.Errorf("source: no ledger at %s: %w", sqlitePath(u), err)
		}
	}
	src, err := openLedger(ctx, from, true)
	if err != nil {
		return fmt.Errorf("source %s: %w", redactURL(from), err)
	}
	defer src.Close()
	dst, err := openStore(ctx, to)
	if err != nil {
		return fmt.Errorf("target %s: %w", redactURL(to), err)
	}
	defer dst.Close()
	imp, ok := dst.(eventstore.Importer)
	if !ok {
		return fmt.Errorf("target %s cannot import records as they are", redactURL(to))
	}
	have, err := dst.Head(ctx)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}

	// The whole source is verified, the part the target already holds
	// included: a copy must never continue a chain that does not hold.
	v := audit.NewVerifier(audit.Options{})
	read, bar := withProgress(ctx, src, stderr, "copy")
	defer bar.done()
	var after, copied uint64
	for {
		recs, err := read.ReadAll(ctx, after, copyPage)
		if err != nil {
			return fmt.Errorf("source: %w", err)
		}
		if len(recs) == 0 {
			break
		}
		if err := v.AddBatch(recs); err != nil {
			return fmt.Errorf("source does not verify, nothing more copied: %w", err)
		}
		after = recs[len(recs)-1].Position
		var todo []eventstore.Record
		for _, r := range recs {
			switch {
			case r.Position < have.Position:
			case r.Position == have.Position:
				if r.Hash != have.Hash {
					return fmt.Errorf("the target holds a different ledger: its position %d has hash %.16s…, the source's %.16s…", r.Position, have.Hash, r.Hash)
				}
			default:
				todo = append(todo, r)
			}
		}
		if err := imp.Import(ctx, todo); err != nil {
			return fmt.Errorf("target: %w", err)
		}
		copied += uint64(len(todo))
	}
	srcHead, err := v.Finish()
	if err != nil {
		return fmt.Errorf("source does not verify: %w", err)
	}
	if have.Position > srcHead.Position {
		return fmt.Errorf("the target (head %d) is ahead of the source (head %d): not a copy of it", have.Position, srcHead.Position)
	}
	bar.done()
	// The target is verified on its own, through its adapter.
	dstHead, err := audit.Verify(ctx, dst, audit.Options{})
	var broken *audit.Error
	switch {
	case errors.As(err, &broken):
		return fmt.Errorf("the copy does not verify: %s", broken.Error())
	case err != nil:
		return fmt.Errorf("verify the copy: %w", err)
	case dstHead.Position != srcHead.Position || dstHead.Hash != srcHead.Hash:
		return fmt.Errorf("the copy ends at position %d hash %.16s…, the source at %d %.16s…", dstHead.Position, dstHead.Hash, srcHead.Position, srcHead.Hash)
	}
	fmt.Fprintf(stdout, "copied %d events (%d were there already); both ledgers verify: head position %d hash %s\n", copied, have.Position, srcHead.Position, srcHead.Hash)
	return nil
}
