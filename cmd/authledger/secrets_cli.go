package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	cmds "github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/secretref"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/secrets"
)

const secretsUsage = `usage:
  authledger secrets list [--json]
  authledger secrets rollback NAME VERSION
  authledger secrets rotate-sealing-key

list shows every secret reference: the signing keys' references as the
ledger records them (name and the exact version each key is read at), and
the other secrets with their newest version in the provider. It never
shows a value. rollback makes an earlier version of NAME the newest one,
through the provider's versions (Infisical keeps every version), and
records it in the ledger; a signing key is pinned to its version by the
ledger and cannot be rolled back (rotate or revoke it). rotate-sealing-key
adds a new refresh-token sealing key: tokens sealed before still open.`

func runSecrets(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, secretsUsage)
		return exitError{2}
	}
	cfg, err := LoadConfig()
	if err != nil {
		return err
	}
	var store eventstore.Store
	if args[0] == "list" {
		store, err = openExistingStore(ctx, cfg)
	} else if store, err = openStore(ctx, cfg.Store); err != nil {
		err = fmt.Errorf("open ledger: %w", err)
	}
	if err != nil {
		return err
	}
	defer store.Close()
	sp, err := openSecrets(ctx, cfg, nil, nil)
	if err != nil {
		return err
	}
	if c, ok := sp.(io.Closer); ok {
		defer c.Close()
	}
	return secretsCLI(ctx, store, sp, args, stdout, stderr)
}

// secretRow is one line of `secrets list`.
type secretRow struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Source: "ledger" for a reference the ledger pins, "provider" for the
	// newest version the provider holds.
	Source string `json:"source"`
	// State is the signing key's state, for ledger references.
	State string `json:"state,omitempty"`
}

func secretsCLI(ctx context.Context, store eventstore.Store, sp secrets.Provider, args []string, stdout, stderr io.Writer) error {
	meta := cmds.Metadata{Actor: "cli"}
	switch args[0] {
	case "list":
		fs := flag.NewFlagSet("secrets list", flag.ContinueOnError)
		fs.SetOutput(stderr)
		asJSON := fs.Bool("json", false, "print JSON")
		if err := fs.Parse(args[1:]); err != nil {
			return exitError{2}
		}
		rows, err := secretRows(ctx, store, sp)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(rows)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tVERSION\tSOURCE\tSTATE")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Version, r.Source, r.State)
		}
		return tw.Flush()
	case "rollback":
		if len(args) != 3 {
			fmt.Fprintln(stderr, secretsUsage)
			return exitError{2}
		}
		h, err := cmds.NewSecretVersions(store, sp, nil, nil)
		if err != nil {
			return err
		}
		ev, err := h.Rollback(ctx, args[1], args[2], meta)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: version %s restored as version %s (was %s); recorded in the ledger\n", ev.Name, ev.RestoredVersion, ev.NewVersion, ev.PreviousVersion)
		return nil
	case "rotate-sealing-key":
		h, err := cmds.NewSecretVersions(store, sp, nil, nil)
		if err != nil {
			return err
		}
		ev, err := h.RotateSealingKey(ctx, meta)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: version %s added; recorded in the ledger\n", ev.Ref.Name, ev.Ref.Version)
		return nil
	default:
		fmt.Fprintf(stderr, "authledger secrets: unknown subcommand %q\n%s\n", args[0], secretsUsage)
		return exitError{2}
	}
}

// secretRows lists the ledger's signing-key references and the provider's
// other names with their newest versions.
func secretRows(ctx context.Context, store eventstore.Store, sp secrets.Provider) ([]secretRow, error) {
	ring, err := cmds.LoadRing(ctx, store)
	if err != nil {
		return nil, err
	}
	var rows []secretRow
	pinned := map[string]bool{}
	for _, k := range ring.Keys() {
		if k.Secret.Name == "" {
			continue
		}
		pinned[k.Secret.Name] = true
		rows = append(rows, secretRow{Name: k.Secret.Name, Version: k.Secret.Version, Source: "ledger", State: string(k.State)})
	}
	names, err := sp.List(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if pinned[n] || strings.HasPrefix(n, "signing-key/") {
			continue // a key the ledger no longer references is an orphan, not a reference
		}
		s, err := sp.Get(ctx, n)
		if errors.Is(err, secrets.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		rows = append(rows, secretRow{Name: n, Version: s.Version, Source: "provider"})
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	return rows, nil
}

// secretChanges reads the secrets stream, for tests and audits.
func secretChanges(ctx context.Context, store eventstore.Store) ([]secretref.Event, error) {
	recs, err := store.ReadStream(ctx, secretref.Stream)
	if err != nil {
		return nil, err
	}
	out := make([]secretref.Event, 0, len(recs))
	for _, r := range recs {
		ev, err := secretref.Decode(r.Type, r.Data)
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}
