package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	cmds "github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/keyring"
	"github.com/authledger/authledger/eventstore"
)

const keysUsage = `usage:
  authledger keys list [--json]
  authledger keys rotate [--immediately]
  authledger keys revoke KID [--reason TEXT]

rotate publishes a new next key at once; it starts signing after the
publication lead (AUTHLEDGER_KEY_PUBLICATION_LEAD), or at once with
--immediately (an emergency after a compromise). revoke removes a key from
the JWKS at once; every token it signed fails verification, and a revoked
signing key is replaced by a fresh one in the same step. Every command works
against the configured ledger while the server runs; the server serves the
new set within a second.`

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, keysUsage)
		return exitError{2}
	}
	cfg, err := LoadConfig()
	if err != nil {
		return err
	}
	policy, err := cfg.KeysConfig.policy()
	if err != nil {
		return err
	}
	if args[0] == "list" {
		// Read-only: never creates a ledger where none is.
		store, err := openExistingStore(ctx, cfg)
		if err != nil {
			return err
		}
		defer store.Close()
		return keysList(ctx, store, args[1:], stdout, stderr)
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
	// A ring change made here reaches running servers at once over Redis;
	// without Redis they learn it from the ledger feed.
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
	meta := cmds.Metadata{Actor: "cli"}
	switch args[0] {
	case "rotate":
		fs := flag.NewFlagSet("keys rotate", flag.ContinueOnError)
		fs.SetOutput(stderr)
		now := fs.Bool("immediately", false, "activate the new key at once")
		if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 0 {
			return exitError{2}
		}
		k, err := keys.Rotate(ctx, cmds.RotateKeys{Immediately: *now}, meta)
		if err != nil {
			return err
		}
		if k.State == keyring.StateActive {
			fmt.Fprintf(stdout, "%s active now\n", k.KID)
		} else {
			fmt.Fprintf(stdout, "%s published; signs from %s\n", k.KID, k.ActivateAt.UTC().Format(time.RFC3339))
		}
		return nil
	case "revoke":
		fs := flag.NewFlagSet("keys revoke", flag.ContinueOnError)
		fs.SetOutput(stderr)
		reason := fs.String("reason", "", "why (recorded in the ledger)")
		kid, rest := "", args[1:]
		if len(rest) > 0 && rest[0] != "" && rest[0][0] != '-' {
			kid, rest = rest[0], rest[1:]
		}
		if err := fs.Parse(rest); err != nil {
			return exitError{2}
		}
		if kid == "" && fs.NArg() == 1 {
			kid = fs.Arg(0)
		}
		if kid == "" {
			fmt.Fprintln(stderr, "keys revoke: KID is required")
			return exitError{2}
		}
		res, err := keys.Revoke(ctx, cmds.RevokeKey{KID: kid, Reason: *reason}, meta)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s revoked\n", kid)
		if res.Replacement != "" {
			fmt.Fprintf(stdout, "%s active now (replaces the revoked signing key)\n", res.Replacement)
		}
		return nil
	default:
		fmt.Fprintf(stderr, "keys: unknown subcommand %q\n%s\n", args[0], keysUsage)
		return exitError{2}
	}
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

func keysList(ctx context.Context, store eventstore.Store, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("keys list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return exitError{2}
	}
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
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(views)
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
