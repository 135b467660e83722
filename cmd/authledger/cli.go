package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/authledger/authledger/eventstore"
)

// version is set at build time (-ldflags "-X main.version=…"); without it
// the module version and VCS stamp of the build stand in.
var version string

func buildVersion() string {
	v := version
	info, ok := debug.ReadBuildInfo()
	if !ok {
		if v == "" {
			v = "(unknown)"
		}
		return v
	}
	if v == "" {
		v = info.Main.Version
	}
	var rev, at, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	out := v
	if rev != "" {
		out += fmt.Sprintf(" (commit %.12s%s, %s)", rev, dirty, at)
	}
	return out + " " + info.GoVersion
}

// output is the --output/-o flag with its --json shorthand, on every
// command that prints data.
type output struct {
	format string
	json   bool
	flags  *pflag.FlagSet
}

func addOutputFlags(cmd *cobra.Command, def string) *output {
	o := &output{flags: cmd.Flags()}
	cmd.Flags().StringVarP(&o.format, "output", "o", def, "output format: json or table")
	cmd.Flags().BoolVar(&o.json, "json", false, "shorthand for --output json")
	return o
}

// resolve is the chosen format, or a usage error for an unknown one or a
// contradiction (--json with -o table).
func (o *output) resolve() (string, error) {
	f := strings.ToLower(o.format)
	if f != "json" && f != "table" {
		return "", usagef("--output must be json or table, got %q", o.format)
	}
	if o.json {
		if f != "json" && o.flags.Changed("output") {
			return "", usagef("--json contradicts --output %s", f)
		}
		f = "json"
	}
	return f, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// isTerminal says whether w is a terminal: progress is drawn only there,
// so scripts and logs see the result lines alone.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress draws a bar with a rate and an ETA on a terminal and nothing
// elsewhere.
type progress struct{ bar *progressbar.ProgressBar }

func newProgress(w io.Writer, total int64, what, unit string) *progress {
	if !isTerminal(w) || total <= 0 {
		return &progress{}
	}
	return &progress{bar: progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(unit),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)}
}

func (p *progress) set(n int64) {
	if p.bar != nil {
		_ = p.bar.Set64(n)
	}
}

func (p *progress) done() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

// progressStore reports how far a full read of the ledger has come, for
// export and verify, without either knowing about progress.
type progressStore struct {
	eventstore.Store
	p *progress
}

func (s progressStore) ReadAll(ctx context.Context, after uint64, limit int) ([]eventstore.Record, error) {
	recs, err := s.Store.ReadAll(ctx, after, limit)
	if n := len(recs); n > 0 {
		s.p.set(int64(recs[n-1].Position))
	}
	return recs, err
}

// withProgress wraps store with a bar up to its head, on a terminal.
func withProgress(ctx context.Context, store eventstore.Store, w io.Writer, what string) (eventstore.Store, *progress) {
	if !isTerminal(w) {
		return store, &progress{}
	}
	head, err := store.Head(ctx)
	if err != nil {
		return store, &progress{}
	}
	p := newProgress(w, int64(head.Position), what, "events")
	return progressStore{Store: store, p: p}, p
}

// countingReader reports bytes read, for verifying an export file.
type countingReader struct {
	r io.Reader
	n int64
	p *progress
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	c.p.set(c.n)
	return n, err
}

// executeSub runs one command tree (a subcommand built on its own, as
// tests and the legacy entry points do) with the root's error handling.
func executeSub(ctx context.Context, cmd *cobra.Command, args []string, stdout, stderr io.Writer) error {
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	return cmd.ExecuteContext(ctx)
}

// runKeys runs a keys command line against the configured store.
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return executeSub(ctx, newKeysCmd(), args, stdout, stderr)
}

// readOnlyRun is the RunE of a command that prints data read from the
// configured ledger: it resolves the output format, then opens the ledger
// read-only, so the command never creates one where none is.
func readOnlyRun(out *output, fn func(ctx context.Context, cfg Config, store eventstore.Store, asJSON bool, stdout io.Writer) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		format, err := out.resolve()
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		cfg, store, err := configuredLedger(ctx)
		if err != nil {
			return err
		}
		defer store.Close()
		return fn(ctx, cfg, store, format == "json", cmd.OutOrStdout())
	}
}
