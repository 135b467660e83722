package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/authledger/authledger/api"
	cmds "github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/readmodels/services"
)

// servicesEnv opens what a services command works on. Tests inject their
// own store; the binary opens the configured one.
type servicesEnv struct {
	// open returns the ledger; readOnly commands never create one.
	open func(ctx context.Context, readOnly bool) (eventstore.Store, func() error, error)
	// pepper reads the secret pepper (which keys v2 secret hashes); list
	// and show never touch the secret provider.
	pepper func(ctx context.Context) (client.Pepper, error)
}

func configuredServicesEnv() servicesEnv {
	return servicesEnv{
		open: func(ctx context.Context, readOnly bool) (eventstore.Store, func() error, error) {
			cfg, err := LoadConfig()
			if err != nil {
				return nil, nil, err
			}
			var store eventstore.Store
			if readOnly {
				store, err = openExistingStore(ctx, cfg)
			} else if store, err = openStore(ctx, cfg.Store); err != nil {
				err = fmt.Errorf("open ledger: %w", err)
			}
			if err != nil {
				return nil, nil, err
			}
			return store, store.Close, nil
		},
		pepper: func(ctx context.Context) (client.Pepper, error) {
			cfg, err := LoadConfig()
			if err != nil {
				return client.Pepper{}, err
			}
			sp, err := openSecrets(ctx, cfg, nil, nil)
			if err != nil {
				return client.Pepper{}, err
			}
			return cmds.LoadSecretPepper(ctx, sp, nil)
		},
	}
}

func newServicesCmd() *cobra.Command { return newServicesCmdWith(configuredServicesEnv()) }

// servicesCLI runs one services command line against store, for tests.
func servicesCLI(ctx context.Context, store eventstore.Store, pepper func(context.Context) (client.Pepper, error), args []string, stdout, stderr io.Writer) error {
	env := servicesEnv{
		open: func(context.Context, bool) (eventstore.Store, func() error, error) {
			return store, func() error { return nil }, nil
		},
		pepper: pepper,
	}
	return executeSub(ctx, newServicesCmdWith(env), args, stdout, stderr)
}

// runServices runs a services command line against the configured store.
func runServices(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return executeSub(ctx, newServicesCmd(), args, stdout, stderr)
}

func newServicesCmdWith(env servicesEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "services",
		Short: "register and manage service (M2M) clients",
		Long: `Every command works against the configured ledger (AUTHLEDGER_STORE) while
servers run; they see the change within a second. Commands that change a
client print it as JSON; register and rotate-secret include the new
client_secret, once: it is stored only as a hash.`,
		Args: noArgs,
		RunE: needSubcommand,
	}
	cmd.AddCommand(
		servicesRegisterCmd(env), servicesListCmd(env), servicesShowCmd(env),
		servicesRotateSecretCmd(env), servicesAddKeyCmd(env), servicesRemoveKeyCmd(env), servicesDisableCmd(env),
	)
	return cmd
}

// change runs fn with a Services bound to the ledger and prints the client
// it returns as JSON.
func (env servicesEnv) change(cmd *cobra.Command, fn func(ctx context.Context, svc *cmds.Services, meta cmds.Metadata) (api.ServiceResponse, error)) error {
	ctx := cmd.Context()
	store, closeStore, err := env.open(ctx, false)
	if err != nil {
		return err
	}
	p, err := env.pepper(ctx)
	if err != nil {
		return errors.Join(err, closeStore())
	}
	svc, err := cmds.NewServices(cmds.ServicesConfig{Store: store, Pepper: p})
	if err != nil {
		return errors.Join(err, closeStore())
	}
	out, err := fn(ctx, svc, cmds.Metadata{Actor: "cli:" + cliActor()})
	if err == nil {
		err = writeJSON(cmd.OutOrStdout(), out)
	}
	return errors.Join(err, closeStore())
}

func servicesRegisterCmd(env servicesEnv) *cobra.Command {
	var (
		name, scopes, jwkFile string
		noScopes              bool
		auds                  []string
		rateLimit, rateBurst  int
		dpopBound, dpopNonce  bool
	)
	cmd := &cobra.Command{
		Use:   "register --name N --scopes \"a b\" [--audience A ...] [--jwk FILE]",
		Short: "register a service client; prints its client_id and client_secret once",
		Long: `register prints JSON with the client_id and, unless only --jwk was given,
the client_secret, once: it is stored only as a hash. Scopes are required
(--no-scopes registers a client that may ask for none, on purpose). Its
"privileged" field, and a note on stderr for each, name the granted scopes
and audiences that are authledger's own powers (docs/services.md "Reserved
names"). --jwk FILE holds one public Ed25519 JWK or a JWK Set for
private_key_jwt; private keys are refused. --rate-limit gives the client
its own request budget (requests per second; --rate-burst defaults to twice
it), recorded in its registration, in place of the AUTHLEDGER_RATE_LIMIT_*
defaults (docs/api.md "Rate limits"). --dpop makes DPoP (RFC 9449)
mandatory on every token request of the client (dpop_bound_access_tokens),
--dpop-nonce makes its proofs carry a server nonce (docs/dpop.md).`,
		Example: `  authledger services register --name billing --scopes "invoices:read invoices:write" --audience https://api.example
  authledger services register --name batch --scopes reports:read --jwk batch.pub.jwk`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return usagef("--name is required")
			}
			switch {
			case noScopes && strings.TrimSpace(scopes) != "":
				return usagef("--no-scopes contradicts --scopes")
			case !noScopes && len(strings.Fields(scopes)) == 0:
				return usagef(`--scopes is required ("a b"); pass --no-scopes to register a client with none`)
			}
			var rl *client.RateLimit
			if rateLimit != 0 || rateBurst != 0 {
				rl = &client.RateLimit{PerSecond: rateLimit, Burst: rateBurst}
				if rl.Burst == 0 {
					rl.Burst = 2 * rl.PerSecond
				}
				if err := rl.Validate(); err != nil {
					return usagef("--rate-limit must be 1..%d and --rate-burst 1..%d", client.MaxRatePerSecond, client.MaxRateBurst)
				}
			}
			var keys []client.PublicKey
			if jwkFile != "" {
				var err error
				if keys, err = readJWKFile(jwkFile); err != nil {
					return err
				}
			}
			return env.change(cmd, func(ctx context.Context, svc *cmds.Services, meta cmds.Metadata) (api.ServiceResponse, error) {
				res, err := svc.Register(ctx, cmds.RegisterService{Name: name, Scopes: strings.Fields(scopes), Audiences: auds, Keys: keys, NoSecret: len(keys) > 0, RateLimit: rl, DPoPBound: dpopBound, DPoPNonce: dpopNonce}, meta)
				if err != nil {
					return api.ServiceResponse{}, err
				}
				out := api.ToServiceResponse(res.Client)
				out.ClientSecret = res.ClientSecret
				notePrivileged(cmd.ErrOrStderr(), out.Privileged)
				return out, nil
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "service name (required)")
	cmd.Flags().StringVar(&scopes, "scopes", "", "space-separated scopes the service may request (required unless --no-scopes)")
	cmd.Flags().BoolVar(&noScopes, "no-scopes", false, "register the client with no scopes, on purpose")
	cmd.Flags().StringArrayVar(&auds, "audience", nil, "an audience the service may request (repeatable)")
	cmd.Flags().StringVar(&jwkFile, "jwk", "", "`FILE` with a public Ed25519 JWK or JWK Set for private_key_jwt")
	cmd.Flags().IntVar(&rateLimit, "rate-limit", 0, "the client's own request budget per second (0: the service defaults)")
	cmd.Flags().IntVar(&rateBurst, "rate-burst", 0, "the burst of --rate-limit (default twice the rate)")
	cmd.Flags().BoolVar(&dpopBound, "dpop", false, "require DPoP (RFC 9449) on every token request: dpop_bound_access_tokens")
	cmd.Flags().BoolVar(&dpopNonce, "dpop-nonce", false, "require a server nonce in the client's DPoP proofs (RFC 9449 §8)")
	return cmd
}

// readRegistry replays the services registry from the ledger, read-only.
func (env servicesEnv) readRegistry(ctx context.Context) (*services.Registry, func() error, error) {
	store, closeStore, err := env.open(ctx, true)
	if err != nil {
		return nil, nil, err
	}
	reg := services.New()
	if err := reg.CatchUp(ctx, store); err != nil {
		return nil, nil, errors.Join(err, closeStore())
	}
	return reg, closeStore, nil
}

func servicesListCmd(env servicesEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "every registered service client",
		Example: "  authledger services list\n  authledger services list -o json | jq -r '.services[].client_id'",
		Args:    exactArgs(),
	}
	out := addOutputFlags(cmd, "table")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		format, err := out.resolve()
		if err != nil {
			return err
		}
		reg, closeStore, err := env.readRegistry(cmd.Context())
		if err != nil {
			return err
		}
		defer closeStore()
		vs, _ := reg.List(cmd.Context())
		list := make([]api.ServiceResponse, 0, len(vs))
		for _, v := range vs {
			list = append(list, api.ToServiceResponse(v))
		}
		if format == "json" {
			return writeJSON(cmd.OutOrStdout(), map[string]any{"services": list})
		}
		tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CLIENT_ID\tNAME\tSCOPES\tAUDIENCES\tSECRETS\tKEYS\tSTATE")
		for _, s := range list {
			state := "enabled"
			if s.Disabled {
				state = "disabled"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", s.ClientID, s.Name, dash(strings.Join(s.Scopes, " ")), dash(strings.Join(s.Audiences, " ")), liveSecrets(s.Secrets), len(s.Keys), state)
		}
		return tw.Flush()
	}
	return cmd
}

// liveSecrets counts the secrets not revoked (those in a rotation window
// included).
func liveSecrets(ss []client.Secret) int {
	n := 0
	for _, s := range ss {
		if !s.Revoked {
			n++
		}
	}
	return n
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func servicesShowCmd(env servicesEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "show ID",
		Short:   "one service client (never its secret)",
		Example: "  authledger services show svc-0193a0b14c1d",
		Args:    exactArgs("ID"),
	}
	out := addOutputFlags(cmd, "json")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		format, err := out.resolve()
		if err != nil {
			return err
		}
		reg, closeStore, err := env.readRegistry(cmd.Context())
		if err != nil {
			return err
		}
		defer closeStore()
		v, ok, _ := reg.Client(cmd.Context(), client.ID(args[0]))
		if !ok {
			return fmt.Errorf("%w: %s", client.ErrNotRegistered, args[0])
		}
		s := api.ToServiceResponse(v)
		if format == "json" {
			return writeJSON(cmd.OutOrStdout(), s)
		}
		tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "client_id\t%s\nname\t%s\nscopes\t%s\naudiences\t%s\nsecrets\t%d live\nkeys\t%d\ndisabled\t%v\nregistered\t%s\n",
			s.ClientID, s.Name, dash(strings.Join(s.Scopes, " ")), dash(strings.Join(s.Audiences, " ")), liveSecrets(s.Secrets), len(s.Keys), s.Disabled, s.RegisteredAt.UTC().Format(time.RFC3339))
		return tw.Flush()
	}
	return cmd
}

func servicesRotateSecretCmd(env servicesEnv) *cobra.Command {
	var (
		window time.Duration
		now    bool
	)
	cmd := &cobra.Command{
		Use:   "rotate-secret ID [--window 24h | --immediately]",
		Short: "issue a new client secret; older ones keep working for the window",
		Long: `rotate-secret prints the new client_secret once. Older secrets keep working
for --window (default 24h) so the service can roll over, or end at once with
--immediately (after a leak). The two contradict each other.`,
		Example: "  authledger services rotate-secret svc-0193a0b14c1d --window 2h\n  authledger services rotate-secret svc-0193a0b14c1d --immediately",
		Args:    exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if now && cmd.Flags().Changed("window") {
				return usagef("--window contradicts --immediately: --immediately ends older secrets now")
			}
			return env.change(cmd, func(ctx context.Context, svc *cmds.Services, meta cmds.Metadata) (api.ServiceResponse, error) {
				res, err := svc.RotateSecret(ctx, cmds.RotateSecret{ClientID: client.ID(args[0]), Window: window, Immediately: now}, meta)
				if err != nil {
					return api.ServiceResponse{}, err
				}
				out := api.ToServiceResponse(res.Client)
				out.ClientSecret = res.ClientSecret
				return out, nil
			})
		},
	}
	cmd.Flags().DurationVar(&window, "window", 0, "how long older secrets keep working (default 24h)")
	cmd.Flags().BoolVar(&now, "immediately", false, "end older secrets now (after a leak)")
	return cmd
}

func servicesAddKeyCmd(env servicesEnv) *cobra.Command {
	var jwkFile string
	cmd := &cobra.Command{
		Use:     "add-key ID --jwk FILE",
		Short:   "add public keys for private_key_jwt",
		Example: "  authledger services add-key svc-0193a0b14c1d --jwk next.pub.jwk",
		Args:    exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if jwkFile == "" {
				return usagef("--jwk is required")
			}
			keys, err := readJWKFile(jwkFile)
			if err != nil {
				return err
			}
			return env.change(cmd, func(ctx context.Context, svc *cmds.Services, meta cmds.Metadata) (api.ServiceResponse, error) {
				res, err := svc.AddKeys(ctx, cmds.AddServiceKeys{ClientID: client.ID(args[0]), Keys: keys}, meta)
				return api.ToServiceResponse(res.Client), err
			})
		},
	}
	cmd.Flags().StringVar(&jwkFile, "jwk", "", "`FILE` with a public Ed25519 JWK or JWK Set (required)")
	return cmd
}

func servicesRemoveKeyCmd(env servicesEnv) *cobra.Command {
	return &cobra.Command{
		Use:   "remove-key ID KID",
		Short: "remove a private_key_jwt public key",
		Long: `remove-key removes one public key (by its kid) from a client; assertions
signed with it are refused from then on. Tokens already issued stay valid
until they expire.`,
		Example: "  authledger services remove-key svc-0193a0b14c1d old-key-1",
		Args:    exactArgs("ID", "KID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return env.change(cmd, func(ctx context.Context, svc *cmds.Services, meta cmds.Metadata) (api.ServiceResponse, error) {
				res, err := svc.RemoveKey(ctx, cmds.RemoveServiceKey{ClientID: client.ID(args[0]), KeyID: args[1]}, meta)
				return api.ToServiceResponse(res.Client), err
			})
		},
	}
}

func servicesDisableCmd(env servicesEnv) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "disable ID [--reason TEXT]",
		Short: "stop a client for good and revoke its tokens",
		Long: `disable stops the client for good: its credentials fail from now on and
every token naming it is revoked until the last one has expired. Disabling
twice changes nothing. There is no enable: register a new client instead,
so that no token of the disabled one can become valid again.`,
		Example: `  authledger services disable svc-0193a0b14c1d --reason "decommissioned"`,
		Args:    exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return env.change(cmd, func(ctx context.Context, svc *cmds.Services, meta cmds.Metadata) (api.ServiceResponse, error) {
				res, err := svc.Disable(ctx, cmds.DisableService{ClientID: client.ID(args[0]), Reason: reason}, meta)
				return api.ToServiceResponse(res.Client), err
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded in the ledger)")
	return cmd
}

// notePrivileged tells the operator, on stderr, which grants are
// authledger's own powers and what each allows: legitimate, but never to
// be handed out unnoticed. The JSON on stdout carries the same list.
func notePrivileged(w io.Writer, p api.PrivilegedGrants) {
	for _, s := range p.Scopes {
		fmt.Fprintf(w, "note: privileged scope %q: %s\n", s, client.PrivilegedScopes[s])
	}
	for _, a := range p.Audiences {
		fmt.Fprintf(w, "note: privileged audience %q: %s\n", a, client.PrivilegedAudiences[a])
	}
}

// MaxJWKFileBytes bounds --jwk files.
const maxJWKFileBytes = 64 << 10

func readJWKFile(path string) ([]client.PublicKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--jwk: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxJWKFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("--jwk: %w", err)
	}
	if len(b) > maxJWKFileBytes {
		return nil, fmt.Errorf("--jwk %s: larger than %d bytes", path, maxJWKFileBytes)
	}
	keys, err := client.ParseJWKs(b)
	if err != nil {
		if errors.Is(err, client.ErrPrivateJWK) {
			return nil, fmt.Errorf("--jwk %s holds a private key; pass the public JWK only (drop \"d\"): %w", path, err)
		}
		return nil, fmt.Errorf("--jwk %s: %w", path, err)
	}
	return keys, nil
}

// cliActor names the operator in event metadata: the OS user, no secret.
func cliActor() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}
