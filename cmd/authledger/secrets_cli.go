package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
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
  authledger secrets migrate --from local:///dir [--dry-run]

list shows every secret reference: the signing keys' references as the
ledger records them (name and the exact version each key is read at), and
the other secrets with their newest version in the provider. It never
shows a value. rollback makes an earlier version of NAME the newest one,
through the provider's versions (Infisical keeps every version), and
records it in the ledger; a signing key is pinned to its version by the
ledger and cannot be rolled back (rotate or revoke it). rotate-sealing-key
adds a new refresh-token sealing key: tokens sealed before still open.
migrate copies every secret of a local provider, every version in order,
into the configured provider (Infisical), so the versions the ledger
records stay the same, then reads each version back and compares; with
--dry-run it only says what it would copy.`

func runSecrets(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, secretsUsage)
		return exitError{2}
	}
	cfg, err := LoadConfig()
	if err != nil {
		return err
	}
	if args[0] == "migrate" {
		sp, err := openSecrets(ctx, cfg, nil, nil)
		if err != nil {
			return err
		}
		if c, ok := sp.(io.Closer); ok {
			defer c.Close()
		}
		return secretsMigrate(ctx, sp, args[1:], stdout, stderr)
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

// secretsMigrate copies a local provider's secrets into to.
func secretsMigrate(ctx context.Context, to secrets.Provider, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("secrets migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the local provider to copy from (local:///dir)")
	dryRun := fs.Bool("dry-run", false, "say what would be copied, write nothing")
	if err := fs.Parse(args); err != nil || *from == "" || !strings.HasPrefix(*from, "local://") {
		fmt.Fprintln(stderr, secretsUsage)
		return exitError{2}
	}
	src, err := openSecrets(ctx, Config{Secrets: *from}, nil, nil)
	if err != nil {
		return err
	}
	names, err := src.List(ctx, "")
	if err != nil {
		return err
	}
	failed := 0
	for _, name := range names {
		msg, err := migrateOne(ctx, src, to, name, *dryRun)
		if err != nil {
			failed++
			fmt.Fprintf(stdout, "%s: FAILED: %v\n", name, err)
			continue
		}
		fmt.Fprintf(stdout, "%s: %s\n", name, msg)
	}
	fmt.Fprintf(stdout, "%d secrets, %d failed%s\n", len(names), failed, map[bool]string{true: " (dry run: nothing written)"}[*dryRun])
	if failed > 0 {
		return exitError{1}
	}
	return nil
}

// migrateOne copies every version of name, or says why it cannot: the
// target's versions must line up with the source's, since the ledger
// records version numbers.
func migrateOne(ctx context.Context, src, to secrets.Provider, name string, dryRun bool) (string, error) {
	newest, err := src.Get(ctx, name)
	if err != nil {
		return "", err
	}
	n, err := strconv.ParseUint(newest.Version, 10, 64)
	if err != nil {
		return "", fmt.Errorf("the source version %q is not a number", newest.Version)
	}
	have := uint64(0)
	if cur, err := to.Get(ctx, name); err == nil {
		if have, err = strconv.ParseUint(cur.Version, 10, 64); err != nil || have > n {
			return "", fmt.Errorf("the target already holds version %s, more than the source's %d", cur.Version, n)
		}
	} else if !errors.Is(err, secrets.ErrNotFound) {
		return "", err
	}
	// What the target holds already must be the same material.
	for v := uint64(1); v <= have; v++ {
		if err := sameVersion(ctx, src, to, name, v); err != nil {
			return "", err
		}
	}
	if have == n {
		return fmt.Sprintf("versions 1..%d already in the target, verified", n), nil
	}
	if dryRun {
		return fmt.Sprintf("would copy versions %d..%d", have+1, n), nil
	}
	for v := have + 1; v <= n; v++ {
		s, err := src.GetVersion(ctx, name, strconv.FormatUint(v, 10))
		if err != nil {
			return "", err
		}
		got, err := to.Put(ctx, name, s.Value.Bytes())
		if err != nil {
			return "", err
		}
		if got != strconv.FormatUint(v, 10) {
			return "", fmt.Errorf("version %d landed as version %s in the target: the ledger's references would not match", v, got)
		}
		if err := sameVersion(ctx, src, to, name, v); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("versions %d..%d copied and read back", have+1, n), nil
}

func sameVersion(ctx context.Context, src, to secrets.Provider, name string, v uint64) error {
	ver := strconv.FormatUint(v, 10)
	a, err := src.GetVersion(ctx, name, ver)
	if err != nil {
		return err
	}
	b, err := to.GetVersion(ctx, name, ver)
	if err != nil {
		return fmt.Errorf("read back version %s: %w", ver, err)
	}
	if subtle.ConstantTimeCompare(a.Value.Bytes(), b.Value.Bytes()) != 1 {
		return fmt.Errorf("version %s differs between the source and the target", ver)
	}
	return nil
}
