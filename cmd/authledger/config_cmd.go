package main

import (
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/authledger/authledger/secrets/local"
)

// configEntry is one line of `authledger config`.
type configEntry struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Source string `json:"source"`
}

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "print the effective configuration, secrets redacted, with each value's source",
		Long: `config prints every AUTHLEDGER_* setting, its value and where the value came
from (env, file, derived, default). Secrets and URL passwords are redacted.
Warnings (unknown variables, a derived issuer) follow on stderr. It exits 1
when the configuration is invalid, after naming every bad setting.`,
		Example: `  authledger config
  authledger config -o json | jq -r '.[] | select(.source != "default") | .name'`,
		Args: exactArgs(),
	}
	out := addOutputFlags(cmd, "table")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		format, err := out.resolve()
		if err != nil {
			return err
		}
		return runConfig(format, cmd.OutOrStdout(), cmd.ErrOrStderr())
	}
	return cmd
}

func runConfig(format string, stdout, stderr io.Writer) error {
	l, err := loadConfig()
	for _, w := range l.warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	if err != nil {
		return err
	}
	entries := configEntries(l)
	if format == "json" {
		return writeJSON(stdout, entries)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SETTING\tVALUE\tSOURCE")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Name, e.Value, e.Source)
	}
	return tw.Flush()
}

// configEntries renders every setting for display: a redacted value prints
// its placeholder, and a URL loses its password, since operators paste this
// output into tickets.
func configEntries(l loadedConfig) []configEntry {
	v := reflect.ValueOf(l.Config)
	// Zero key settings mean the keyring's defaults: show those, since "0s"
	// would read as "never rotate".
	effective := map[string]string{}
	if p, err := l.policy(); err == nil {
		effective["KEY_ROTATION_INTERVAL"] = p.RotationInterval.String()
		effective["KEY_PUBLICATION_LEAD"] = p.PublicationLead.String()
		effective["JWKS_MAX_AGE"] = p.JWKSMaxAge.String()
	}
	effective["KEY_CHECK_EVERY"] = "1m0s" // the scheduler's default period
	var out []configEntry
	for _, s := range settings() {
		f := v.FieldByIndex(s.index)
		val := displayValue(f)
		if d, ok := effective[s.name]; ok && f.IsZero() {
			val = d
		}
		out = append(out, configEntry{Name: envPrefix + s.name, Value: val, Source: l.sources.of(s.name)})
	}
	if strings.HasPrefix(l.Secrets, "local:") {
		mk := configEntry{Name: local.EnvMasterKey, Value: "", Source: "generated in the secrets directory on first start"}
		if v, ok := os.LookupEnv(local.EnvMasterKey); ok && v != "" {
			mk.Value, mk.Source = redacted(v).String(), "env"
		}
		out = append(out, mk)
	}
	return out
}

func displayValue(v reflect.Value) string {
	if s, ok := v.Interface().(fmt.Stringer); ok {
		return s.String()
	}
	switch v.Kind() {
	case reflect.String:
		if strings.Contains(v.String(), "://") {
			return redactURL(v.String())
		}
		return v.String()
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = displayValue(v.Index(i))
		}
		return strings.Join(parts, ",")
	default:
		return fmt.Sprint(v.Interface())
	}
}
