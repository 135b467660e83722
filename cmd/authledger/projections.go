package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/projections"
)

const projectionsUsage = `usage: authledger projections status [--json]
       authledger projections rebuild NAME [--wait-lock DURATION]
       authledger projections resume NAME

status   checkpoint, ledger head, lag (events, seconds) and state of every
         projection, read from the read-model database (works while servers run)
rebuild  builds a shadow copy from position 1 while the live one serves, then
         swaps it in; prints progress. When a running instance owns the
         projection, the request is recorded and that instance performs it
         (this command follows its progress); otherwise this process takes the
         projection's lock and rebuilds it itself. Interrupted rebuilds
         continue where they stopped.
resume   retries the event a stopped projection stopped at`

func runProjections(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, projectionsUsage)
		return exitError{2}
	}
	cfg, err := LoadConfig()
	if err != nil {
		return err
	}
	switch args[0] {
	case "status":
		fs := flag.NewFlagSet("projections status", flag.ContinueOnError)
		fs.SetOutput(stderr)
		asJSON := fs.Bool("json", false, "print JSON")
		if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 0 {
			return exitError{2}
		}
		// Read-only: never creates a ledger or read-model database.
		store, err := openExistingStore(ctx, cfg)
		if err != nil {
			return err
		}
		defer store.Close()
		db, err := openExistingReadModels(ctx, cfg)
		if err != nil {
			return err
		}
		defer db.Close()
		return projectionsStatus(ctx, store, db, *asJSON, stdout)
	case "rebuild":
		fs := flag.NewFlagSet("projections rebuild", flag.ContinueOnError)
		fs.SetOutput(stderr)
		wait := fs.Duration("wait-lock", 10*time.Second, "how long to wait for the projection's lock when no live instance owns it")
		name, rest := splitName(args[1:])
		if err := fs.Parse(rest); err != nil || name == "" || fs.NArg() != 0 {
			fmt.Fprintln(stderr, projectionsUsage)
			return exitError{2}
		}
		return projectionsRebuild(ctx, cfg, name, *wait, stdout, stderr)
	case "resume":
		if len(args) != 2 {
			fmt.Fprintln(stderr, projectionsUsage)
			return exitError{2}
		}
		store, db, err := openProjectionStores(ctx, cfg)
		if err != nil {
			return err
		}
		defer store.Close()
		defer db.Close()
		if err := projections.RequestResume(ctx, db, args[1], time.Now()); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: resume requested; the owning instance retries the event within a heartbeat\n", args[1])
		return nil
	default:
		fmt.Fprintln(stderr, projectionsUsage)
		return exitError{2}
	}
}

// splitName takes NAME from before or after the flags.
func splitName(args []string) (string, []string) {
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		return args[0], args[1:]
	}
	if n := len(args); n > 0 && len(args[n-1]) > 0 && args[n-1][0] != '-' {
		return args[n-1], args[:n-1]
	}
	return "", args
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

func progressLine(name string, p projections.Progress) string {
	pct := 100.0
	if p.Total > 0 {
		pct = 100 * float64(p.Done) / float64(p.Total)
	}
	return fmt.Sprintf("%s: %d/%d events (%.1f%%), %.0f events/s, ETA %s", name, p.Done, p.Total, pct, p.Rate, p.ETA.Round(time.Second))
}

func projectionsRebuild(ctx context.Context, cfg Config, name string, wait time.Duration, stdout, stderr io.Writer) error {
	store, db, err := openProjectionStores(ctx, cfg)
	if err != nil {
		return err
	}
	st, found, err := findStatus(ctx, db, store, name)
	if err == nil && found && st.Kind == "memory" {
		err = fmt.Errorf("%w: %s", projections.ErrNotRebuildable, name)
	}
	if err != nil {
		return errors.Join(err, db.Close(), store.Close())
	}
	if found && st.Alive {
		defer store.Close()
		defer db.Close()
		return followRebuild(ctx, db, store, st, stdout)
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
	last := time.Time{}
	err = a.runner.Rebuild(ctx, name, wait, func(p projections.Progress) {
		if p.Swapped {
			fmt.Fprintf(stdout, "%s: rebuilt to position %d and swapped in (%.0f events/s)\n", name, p.Done, p.Rate)
			return
		}
		if time.Since(last) >= 500*time.Millisecond {
			last = time.Now()
			fmt.Fprintln(stdout, progressLine(name, p))
		}
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
func followRebuild(ctx context.Context, db *projections.DB, store eventstore.Store, before projections.Status, stdout io.Writer) error {
	if err := projections.RequestRebuild(ctx, db, before.Name, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: rebuild requested from %s\n", before.Name, before.Owner)
	started := false
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
			fmt.Fprintln(stdout, progressLine(s.Name, *s.Rebuild))
		case !s.RebuildRequested && (started || s.Generation > before.Generation || s.Kind == "external"):
			fmt.Fprintf(stdout, "%s: rebuilt and swapped in (generation %d, checkpoint %d)\n", s.Name, s.Generation, s.Checkpoint)
			return nil
		case !s.Alive:
			return fmt.Errorf("%s: owner %s stopped before the rebuild finished; run the command again", s.Name, s.Owner)
		}
	}
}
