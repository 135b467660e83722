package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/authledger/authledger/api"
	cmds "github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/readmodels/services"
)

const servicesUsage = `usage:
  authledger services register --name N --scopes "a b" [--audience A ...] [--jwk FILE]
  authledger services list
  authledger services show ID
  authledger services rotate-secret ID [--window 24h | --immediately]
  authledger services add-key ID --jwk FILE
  authledger services disable ID [--reason TEXT]

register prints the client_id and, unless only --jwk was given, the
client_secret, once: it is stored only as a hash. Its "privileged" field,
and a note on stderr for each, name the granted scopes and audiences that
are authledger's own powers (docs/services.md "Reserved names"). --jwk FILE holds one
public Ed25519 JWK or a JWK Set; private keys are refused. Every command
works against the configured ledger (AUTHLEDGER_STORE) while the server
runs; the server sees the change within a second.`

func runServices(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, servicesUsage)
		return exitError{2}
	}
	cfg, err := LoadConfig()
	if err != nil {
		return err
	}
	var store eventstore.Store
	if args[0] == "list" || args[0] == "show" {
		// Read-only: never creates a ledger where none is.
		store, err = openExistingStore(ctx, cfg)
	} else if store, err = openStore(ctx, cfg.Store); err != nil {
		err = fmt.Errorf("open ledger: %w", err)
	}
	if err != nil {
		return err
	}
	pepper := func(ctx context.Context) (client.Pepper, error) {
		sp, err := openSecrets(ctx, cfg, nil, nil)
		if err != nil {
			return client.Pepper{}, err
		}
		return cmds.LoadSecretPepper(ctx, sp, nil)
	}
	runErr := servicesCLI(ctx, store, pepper, args, stdout, stderr)
	return errors.Join(runErr, store.Close())
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, " ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// servicesCLI runs one services subcommand against store. Commands that
// change a client read the secret pepper (which keys v2 secret hashes)
// through pepper; list and show never touch the secret provider.
func servicesCLI(ctx context.Context, store eventstore.Store, pepper func(context.Context) (client.Pepper, error), args []string, stdout, stderr io.Writer) error {
	newServices := func() (*cmds.Services, error) {
		p, err := pepper(ctx)
		if err != nil {
			return nil, err
		}
		return cmds.NewServices(cmds.ServicesConfig{Store: store, Pepper: p})
	}
	var err error
	meta := cmds.Metadata{Actor: "cli:" + cliActor()}
	sub, rest := args[0], args[1:]
	fs := flag.NewFlagSet("services "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, servicesUsage) }
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	// idArg parses flags that may follow the positional ID.
	idArg := func() (client.ID, error) {
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
			fs.Usage()
			return "", exitError{2}
		}
		id := rest[0]
		if err := fs.Parse(rest[1:]); err != nil || fs.NArg() != 0 {
			return "", exitError{2}
		}
		return client.ID(id), nil
	}

	switch sub {
	case "register":
		name := fs.String("name", "", "service name (required)")
		scopes := fs.String("scopes", "", "space-separated scopes the service may request")
		var auds stringList
		fs.Var(&auds, "audience", "an audience the service may request (repeatable)")
		jwkFile := fs.String("jwk", "", "file with a public Ed25519 JWK or JWK Set for private_key_jwt")
		if err := fs.Parse(rest); err != nil || fs.NArg() != 0 {
			return exitError{2}
		}
		if *name == "" {
			fmt.Fprintln(stderr, "services register: --name is required")
			return exitError{2}
		}
		var keys []client.PublicKey
		if *jwkFile != "" {
			if keys, err = readJWKFile(*jwkFile); err != nil {
				return err
			}
		}
		svc, err := newServices()
		if err != nil {
			return err
		}
		res, err := svc.Register(ctx, cmds.RegisterService{Name: *name, Scopes: strings.Fields(*scopes), Audiences: auds, Keys: keys, NoSecret: len(keys) > 0}, meta)
		if err != nil {
			return err
		}
		out := api.ToServiceResponse(res.Client)
		out.ClientSecret = res.ClientSecret
		notePrivileged(stderr, out.Privileged)
		return enc.Encode(out)

	case "list", "show":
		var id client.ID
		if sub == "show" {
			if id, err = idArg(); err != nil {
				return err
			}
		} else if err := fs.Parse(rest); err != nil || fs.NArg() != 0 {
			return exitError{2}
		}
		reg := services.New()
		if err := reg.CatchUp(ctx, store); err != nil {
			return err
		}
		if sub == "show" {
			v, ok, _ := reg.Client(ctx, id)
			if !ok {
				return fmt.Errorf("%w: %s", client.ErrNotRegistered, id)
			}
			return enc.Encode(api.ToServiceResponse(v))
		}
		vs, _ := reg.List(ctx)
		out := make([]api.ServiceResponse, 0, len(vs))
		for _, v := range vs {
			out = append(out, api.ToServiceResponse(v))
		}
		return enc.Encode(map[string]any{"services": out})

	case "rotate-secret":
		window := fs.Duration("window", 0, "how long older secrets keep working (default 24h)")
		now := fs.Bool("immediately", false, "end older secrets now (after a leak)")
		id, err := idArg()
		if err != nil {
			return err
		}
		svc, err := newServices()
		if err != nil {
			return err
		}
		res, err := svc.RotateSecret(ctx, cmds.RotateSecret{ClientID: id, Window: *window, Immediately: *now}, meta)
		if err != nil {
			return err
		}
		out := api.ToServiceResponse(res.Client)
		out.ClientSecret = res.ClientSecret
		return enc.Encode(out)

	case "add-key":
		jwkFile := fs.String("jwk", "", "file with a public Ed25519 JWK or JWK Set (required)")
		id, err := idArg()
		if err != nil {
			return err
		}
		if *jwkFile == "" {
			fmt.Fprintln(stderr, "services add-key: --jwk is required")
			return exitError{2}
		}
		keys, err := readJWKFile(*jwkFile)
		if err != nil {
			return err
		}
		svc, err := newServices()
		if err != nil {
			return err
		}
		res, err := svc.AddKeys(ctx, cmds.AddServiceKeys{ClientID: id, Keys: keys}, meta)
		if err != nil {
			return err
		}
		return enc.Encode(api.ToServiceResponse(res.Client))

	case "disable":
		reason := fs.String("reason", "", "why (recorded in the ledger)")
		id, err := idArg()
		if err != nil {
			return err
		}
		svc, err := newServices()
		if err != nil {
			return err
		}
		res, err := svc.Disable(ctx, cmds.DisableService{ClientID: id, Reason: *reason}, meta)
		if err != nil {
			return err
		}
		return enc.Encode(api.ToServiceResponse(res.Client))

	default:
		fmt.Fprintf(stderr, "services: unknown subcommand %q\n%s\n", sub, servicesUsage)
		return exitError{2}
	}
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
