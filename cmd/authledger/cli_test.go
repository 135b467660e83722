package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Every command answers --help with its usage and its own flags, exit 0.
func TestEveryCommandHasHelpWithItsFlags(t *testing.T) {
	var walk func(c *cobra.Command)
	var paths [][]string
	walk = func(c *cobra.Command) {
		if c.Hidden {
			return
		}
		paths = append(paths, strings.Fields(c.CommandPath())[1:])
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd())
	if len(paths) < 20 {
		t.Fatalf("only %d commands found", len(paths))
	}
	for _, p := range paths {
		args := append(append([]string(nil), p...), "--help")
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(context.Background(), args, &out, &errOut); code != 0 {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
			if !strings.Contains(out.String(), "Usage:") {
				t.Fatalf("no usage in:\n%s", out.String())
			}
			root := newRootCmd()
			c, _, err := root.Find(p)
			if err != nil {
				t.Fatal(err)
			}
			c.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
				if !strings.Contains(out.String(), "--"+f.Name) {
					t.Errorf("help does not list --%s", f.Name)
				}
			})
		})
	}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		args []string
		code int
		out  string // in stdout or stderr
	}{
		{[]string{"--help"}, 0, "Exit codes: 0 ok; 1 a failed check or operation; 2 a usage error"},
		{[]string{"--version"}, 0, "authledger "},
		{[]string{"completion", "bash"}, 0, "bash completion"},
		{[]string{"projections", "resume", "--help"}, 0, "resume NAME"},
		{[]string{"serve", "--help"}, 0, "drains"},
		{nil, 2, "a subcommand is required"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"keys"}, 2, "a subcommand is required"},
		{[]string{"keys", "frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"keys", "list", "--nope"}, 2, "unknown flag: --nope"},
		{[]string{"keys", "revoke"}, 2, "KID is required"},
		{[]string{"keys", "revoke", "a", "b"}, 2, `unexpected argument "b"`},
		{[]string{"projections", "rebuild"}, 2, "NAME is required"},
		{[]string{"projections", "status", "-o", "xml"}, 2, "--output must be json or table"},
		{[]string{"projections", "status", "--json", "-o", "table"}, 2, "--json contradicts --output table"},
		{[]string{"services", "register", "--name", "x"}, 2, "--no-scopes"},
		{[]string{"services", "rotate-secret", "svc-x", "--window", "48h", "--immediately"}, 2, "--window contradicts --immediately"},
		{[]string{"audit", "verify", "--jwks", "x.json"}, 2, "--jwks is only used with --checkpoint"},
		{[]string{"serve", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"config"}, 0, "AUTHLEDGER_LISTEN"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			clearEnv(t)
			t.Setenv("AUTHLEDGER_DATA_DIR", t.TempDir())
			var out, errOut bytes.Buffer
			code := run(context.Background(), tt.args, &out, &errOut)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out.String(), errOut.String())
			}
			if all := out.String() + errOut.String(); !strings.Contains(all, tt.out) {
				t.Fatalf("output lacks %q:\n%s", tt.out, all)
			}
		})
	}
}

func TestProjectionNamesResolveWithoutTheirSuffix(t *testing.T) {
	names := []string{"families.v1", "sessions.v1", "audit.v1", "audit.v2", "jwks.v1"}
	tests := []struct {
		typed, want, wantErr string
	}{
		{"families.v1", "families.v1", ""},
		{"families", "families.v1", ""},
		{"audit.v2", "audit.v2", ""},
		{"audit", "", "unknown projection \"audit\"; known: audit.v1, audit.v2, families.v1, jwks.v1, sessions.v1"},
		{"active_sessions", "", "known: audit.v1, audit.v2, families.v1, jwks.v1, sessions.v1 (the version suffix may be left out)"},
	}
	for _, tt := range tests {
		got, err := matchProjection(tt.typed, names)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: err %v, want %q", tt.typed, err, tt.wantErr)
			}
			if err != nil && strings.Count(err.Error(), "projection") != 1 {
				t.Errorf("%q: the error repeats itself: %v", tt.typed, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: %q, %v; want %q", tt.typed, got, err, tt.want)
		}
	}
}
