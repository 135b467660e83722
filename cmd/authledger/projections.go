package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/projections"
)

func newProjectionsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "projections",
		Short: "inspect, rebuild or resume the read models",
		Long: `Projections build the read models from the ledger. NAME is a projection's
name as status lists it (families.v1); the version suffix may be left out
when one version exists (families).`,
		Args: noArgs,
		RunE: needSubcommand,
	}
	cmd.AddCommand(newProjectionsStatusCmd(), newProjectionsRebuildCmd(), newProjectionsResumeCmd())
	return cmd
}

func newProjectionsStatusCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "checkpoint, ledger head, lag and state of every projection",
		Long: `status prints the checkpoint, the ledger head, the lag (events, seconds),
the owning instance and the state of every projection, read from the
read-model database; it works while servers run and never creates a
database.`,
		Example: `  authledger projections status
  authledger projections status -o json | jq '.projections[] | select(.state != "running")'`,
		Args: exactArgs(),
	}
	cmd.RunE = readOnlyRun(addOutputFlags(cmd, "table"), func(ctx context.Context, cfg Config, store eventstore.Store, asJSON bool, stdout io.Writer) error {
		// Read-only too: never creates a read-model database.
		db, err := openExistingReadModels(ctx, cfg)
		if err != nil {
			return err
		}
		defer db.Close()
		return projectionsStatus(ctx, store, db, asJSON, stdout)
	})
	return cmd
}

func newProjectionsRebuildCmd() *cobra.Command {
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "rebuild NAME",
		Short: "rebuild a read model from position 1 while the live one serves",
		Long: `rebuild builds a shadow copy from position 1 while the live one serves, then
swaps it in. When a running instance owns the projection, the request is
recorded and that instance performs it (this command follows its progress);
otherwise this process takes the projection's lock and rebuilds it itself.
Interrupted rebuilds continue where they stopped. Memory read models (JWKS,
services, revocations) rebuild at every start and cannot be rebuilt here.
On a terminal, progress (rate and ETA) is shown on stderr.`,
		Example: `  authledger projections rebuild families
  authledger projections rebuild sessions.v1 --wait-lock 30s`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := LoadConfig()
			if err != nil {
				return err
			}
			return projectionsRebuild(cmd.Context(), cfg, args[0], wait, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().DurationVar(&wait, "wait-lock", 10*time.Second, "how long to wait for the projection's lock when no live instance owns it")
	return cmd
}

func newProjectionsResumeCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "resume NAME",
		Short:   "retry the event a stopped projection stopped at",
		Long:    "resume asks the owning instance to retry the event a stopped projection stopped at, within a heartbeat.",
		Example: "  authledger projections resume families",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, err := LoadConfig()
			if err != nil {
				return err
			}
			store, db, err := openProjectionStores(ctx, cfg)
			if err != nil {
				return err
			}
			defer store.Close()
			defer db.Close()
			name, err := resolveProjection(ctx, db, store, args[0], nil)
			if err != nil {
				return err
			}
			if err := projections.RequestResume(ctx, db, name, time.Now()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: resume requested; the owning instance retries the event within a heartbeat\n", name)
			return nil
		},
	}
}

// resolveProjection maps what an operator typed to a projection name: the
// exact name, or the name without its version suffix when one version
// exists. Unknown names get the list of valid ones, since guessing
// "active_sessions" vs "sessions.v1" is what trips people.
func resolveProjection(ctx context.Context, db *projections.DB, store eventstore.Store, typed string, more []string) (string, error) {
	names := append([]string(nil), more...)
	if ss, err := projections.ReadStatus(ctx, db, store, time.Now()); err == nil {
		for _, s := range ss {
			names = append(names, s.Name)
		}
	}
	if len(names) == 0 {
		return typed, nil // nothing to compare with yet: the runner decides
	}
	return matchProjection(typed, names)
}

func matchProjection(typed string, names []string) (string, error) {
	names = slices.Clone(names)
	sort.Strings(names)
	names = slices.Compact(names)
	if slices.Contains(names, typed) {
		return typed, nil
	}
	var match []string
	for _, n := range names {
		if base, _, ok := strings.Cut(n, "."); ok && base == typed {
			match = append(match, n)
		}
	}
	if len(match) == 1 {
		return match[0], nil
	}
	return "", fmt.Errorf("unknown projection %q; known: %s (the version suffix may be left out)", typed, strings.Join(names, ", "))
}

func openProjectionStores(ctx context.Context, cfg Config) (eventstore.Store, *projections.DB, error) {
	store, err := openStore(ctx, cfg.Store)
	if err != nil {
		return nil, nil, fmt.Errorf("open ledger: %w", err)
	}
	db, err := projections.Open(ctx, cfg.ReadModels)
	if err != nil {
		return nil, nil, errors.Join(fmt.Errorf("open read models: %w", err), store.Close())
	}
	return store, db, nil
}

func projectionsStatus(ctx context.Context, store eventstore.Store, db *projections.DB, asJSON bool, stdout io.Writer) error {
	ss, err := projections.ReadStatus(ctx, db, store, time.Now())
	if err != nil {
		return err
	}
	if asJSON {
		if ss == nil {
			ss = []projections.Status{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"projections": ss})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tCHECKPOINT\tHEAD\tLAG\tLAG(s)\tOWNER\tSTATE")
	for _, s := range ss {
		owner := s.Owner
		if owner == "" {
			owner = "-"
		} else if !s.Alive {
			owner += " (gone)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%.3f\t%s\t%s\n", s.Name, s.Kind, s.Checkpoint, s.Head, s.LagEvents, s.LagSeconds, owner, s.Describe())
	}
	return tw.Flush()
}

func projectionsRebuild(ctx context.Context, cfg Config, typed string, wait time.Duration, stdout, stderr io.Writer) error {
	store, db, err := openProjectionStores(ctx, cfg)
	if err != nil {
		return err
	}
	name, err := resolveProjection(ctx, db, store, typed, nil)
	if err != nil {
		return errors.Join(err, db.Close(), store.Close())
	}
	st, found, err := findStatus(ctx, db, store, name)
	if err == nil && found && st.Kind == "memory" {
		err = fmt.Errorf("%s is a memory read model: it is rebuilt from the ledger at every start, never here", name)
	}
	if err != nil {
		return errors.Join(err, db.Close(), store.Close())
	}
	if found && st.Alive {
		defer store.Close()
		defer db.Close()
		return followRebuild(ctx, db, store, st, stdout, stderr)
	}
	if err := errors.Join(db.Close(), store.Close()); err != nil {
		return err
	}
	// No live owner: rebuild in this process, with the projections the
	// service registers.
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	log := newLogger(stderr, "warn")
	a, err := buildApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	if name, err = matchProjection(name, a.runner.Names()); err != nil {
		return err
	}
	var bar *progress
	err = a.runner.Rebuild(ctx, name, wait, func(p projections.Progress) {
		if p.Swapped {
			if bar != nil {
				bar.done()
			}
			fmt.Fprintf(stdout, "%s: rebuilt to position %d and swapped in (%.0f events/s)\n", name, p.Done, p.Rate)
			return
		}
		if bar == nil {
			bar = newProgress(stderr, int64(p.Total), "rebuild "+name, "events")
		}
		bar.set(int64(p.Done))
	})
	if errors.Is(err, projections.ErrBusy) {
		// An instance took it meanwhile: leave the request to it.
		if rerr := a.runner.RequestRebuild(ctx, name); rerr != nil {
			return rerr
		}
		fmt.Fprintf(stdout, "%s: owned by a running instance; rebuild requested, follow with `authledger projections status`\n", name)
		return nil
	}
	return err
}

func findStatus(ctx context.Context, db *projections.DB, store eventstore.Store, name string) (projections.Status, bool, error) {
	ss, err := projections.ReadStatus(ctx, db, store, time.Now())
	if err != nil {
		return projections.Status{}, false, err
	}
	for _, s := range ss {
		if s.Name == name {
			return s, true, nil
		}
	}
	return projections.Status{}, false, nil
}

// followRebuild records the request and prints the owner's progress until
// the new generation is live.
func followRebuild(ctx context.Context, db *projections.DB, store eventstore.Store, before projections.Status, stdout, stderr io.Writer) error {
	if err := projections.RequestRebuild(ctx, db, before.Name, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: rebuild requested from %s\n", before.Name, before.Owner)
	started := false
	var bar *progress
	defer func() {
		if bar != nil {
			bar.done()
		}
	}()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintf(stdout, "%s: stopped following; the rebuild goes on in %s\n", before.Name, before.Owner)
			return nil
		case <-tick.C:
		}
		s, found, err := findStatus(ctx, db, store, before.Name)
		if err != nil || !found {
			return err
		}
		switch {
		case s.Rebuild != nil && s.RebuildError != "":
			return fmt.Errorf("rebuild of %s stopped at %d: %s (fix, then `authledger projections resume %s`)", s.Name, s.Rebuild.Done, s.RebuildError, s.Name)
		case s.Rebuild != nil:
			started = true
			if bar == nil {
				bar = newProgress(stderr, int64(s.Rebuild.Total), "rebuild "+s.Name, "events")
			}
			bar.set(int64(s.Rebuild.Done))
		case !s.RebuildRequested && (started || s.Generation > before.Generation || s.Kind == "external"):
			fmt.Fprintf(stdout, "%s: rebuilt and swapped in (generation %d, checkpoint %d)\n", s.Name, s.Generation, s.Checkpoint)
			return nil
		case !s.Alive:
			return fmt.Errorf("%s: owner %s stopped before the rebuild finished; run the command again", s.Name, s.Owner)
		}
	}
}
