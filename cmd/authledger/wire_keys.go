package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/authledger/authledger/api"
	cmds "github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/keyring"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/internal/opsmetrics"
	"github.com/authledger/authledger/readmodels/jwks"
	"github.com/authledger/authledger/secrets"
	"github.com/authledger/authledger/secrets/local"
)

// KeysConfig is the key-rotation part of the configuration (AUTHLEDGER_
// prefix, same YAML file). Zero values take the keyring defaults; the
// policy's Validate refuses unsafe combinations.
type KeysConfig struct {
	// KeyRotationInterval is how long a key signs. Default 24h.
	KeyRotationInterval time.Duration `env:"KEY_ROTATION_INTERVAL"`
	// KeyPublicationLead is how long a new key is in the JWKS before it
	// signs. Default 15m; at least JWKS max-age + stale-while-revalidate + skew.
	KeyPublicationLead time.Duration `env:"KEY_PUBLICATION_LEAD"`
	// JWKSMaxAge is the JWKS Cache-Control max-age. Default 5m.
	JWKSMaxAge time.Duration `env:"JWKS_MAX_AGE"`
	// KeyCheckEvery is the rotation scheduler's period. Default 1m.
	KeyCheckEvery time.Duration `env:"KEY_CHECK_EVERY"`
}

// policy is the key-ring policy these settings give, or why it is unsafe.
func (c KeysConfig) policy() (keyring.Policy, error) {
	p := keyring.Policy{RotationInterval: c.KeyRotationInterval, PublicationLead: c.KeyPublicationLead, JWKSMaxAge: c.JWKSMaxAge}.WithDefaults()
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("%sKEY_*: key policy: %w", envPrefix, err)
	}
	if c.KeyCheckEvery < 0 {
		return p, fmt.Errorf("%sKEY_CHECK_EVERY: must not be negative", envPrefix)
	}
	return p, nil
}

// openSecrets opens the provider named by AUTHLEDGER_SECRETS; reg and log
// may be nil (the CLI).
func openSecrets(ctx context.Context, cfg Config, reg prometheus.Registerer, log *slog.Logger) (secrets.Provider, error) {
	u, err := url.Parse(cfg.Secrets)
	if err != nil {
		return nil, errors.New("secrets: AUTHLEDGER_SECRETS is not a URL")
	}
	switch u.Scheme {
	case "local":
		return local.Open(sqlitePath(u), local.Options{})
	case "infisical":
		return openInfisical(ctx, cfg.Secrets, cfg.InfisicalConfig, reg, log)
	default:
		return nil, fmt.Errorf("secrets: provider %q is not supported by this build", u.Scheme)
	}
}

// newKeys builds the key commands the server and the CLI share; every ring
// change is also announced on pub (nil: not announced).
func newKeys(store eventstore.Store, sp secrets.Provider, p keyring.Policy, pub message.Publisher) (*cmds.Keys, error) {
	kc := cmds.KeysConfig{Store: store, Secrets: sp, Policy: p}
	if pub != nil {
		kc.Notify = func(ctx context.Context, v uint64) error { return jwks.PublishInvalidation(ctx, pub, v) }
	}
	return cmds.NewKeys(kc)
}

// keyParts are the signing keys: the secret provider holding their
// private halves, the key commands and rotation scheduler, the in-process
// JWKS model and the signer.
type keyParts struct {
	contributions
	secrets secrets.Provider
	// provider is secrets before the metrics decorator, for the parts
	// that use what a particular provider adds (Infisical's cache, health
	// and sync: wire_infisical.go).
	provider secrets.Provider
	model    *jwks.Model
	signer   *cmds.JWTSigner
}

// buildKeys builds the secret provider, key commands, rotation scheduler,
// JWKS read model, signer and the JWKS and metadata routes.
func buildKeys(ctx context.Context, in *infraParts) (keyParts, error) {
	kc := in.cfg.KeysConfig
	policy, err := kc.policy()
	if err != nil {
		return keyParts{}, err
	}
	sp, err := openSecrets(ctx, in.cfg, in.metrics, in.log)
	if err != nil {
		return keyParts{}, err
	}
	if c, ok := sp.(io.Closer); ok {
		in.onClose(c.Close)
	}
	provider := sp
	if sp, err = opsmetrics.CountSecretErrors(sp, in.metrics); err != nil {
		return keyParts{}, fmt.Errorf("keys: metrics: %w", err)
	}
	keys, err := newKeys(in.store, sp, policy, in.bus)
	if err != nil {
		return keyParts{}, err
	}
	model := jwks.New()
	// From the keyring stream, not the ledger: the runner feeds it from the
	// head taken before.
	if err := model.LoadForRunner(ctx, in.store); err != nil {
		return keyParts{}, fmt.Errorf("keys: %w", err)
	}
	if _, ok := model.ActiveKey(); !ok {
		// First start (or every key revoked): sign from the first request.
		res, err := keys.Tick(ctx, cmds.Metadata{Actor: "serve"})
		if err != nil {
			return keyParts{}, fmt.Errorf("keys: first key: %w", err)
		}
		in.log.Info("keys: key ring initialised", "kid", res.Published)
		if err := model.Reload(ctx, in.store); err != nil {
			return keyParts{}, fmt.Errorf("keys: %w", err)
		}
	}
	// The runner feeds the model from then on (Apply skips what Reload
	// already folded).
	if err := in.runner.Register(model); err != nil {
		return keyParts{}, fmt.Errorf("keys: %w", err)
	}
	if err := opsmetrics.RegisterKeys(in.metrics, model, policy); err != nil {
		return keyParts{}, fmt.Errorf("keys: metrics: %w", err)
	}
	failures := cmds.FailuresCounter()
	if err := in.metrics.Register(failures); err != nil {
		return keyParts{}, fmt.Errorf("keys: metrics: %w", err)
	}
	sched := cmds.NewScheduler(cmds.SchedulerConfig{Keys: keys, Every: kc.KeyCheckEvery, Failures: failures, Log: in.log})
	signer, err := cmds.NewJWTSigner(cmds.JWTSignerConfig{Issuer: in.cfg.Issuer, Store: in.store, Secrets: sp, Keys: model})
	if err != nil {
		return keyParts{}, err
	}
	return keyParts{secrets: sp, provider: provider, model: model, signer: signer, contributions: contributions{
		tasks: []task{
			{"key rotation scheduler", sched.Run},
			// The bus only speeds delivery up; a Redis outage must not stop serving.
			{"jwks invalidation listener", bestEffort(in.log, "keys: JWKS invalidation listener", func(ctx context.Context) error {
				return jwks.ListenInvalidations(ctx, in.bus, model, in.store)
			})},
		},
		ready: []api.ReadyCheck{{Name: "signing_key", Check: func(context.Context) error {
			if _, ok := model.ActiveKey(); !ok {
				return cmds.ErrNoActiveKey
			}
			return nil
		}}, signingKeysCheck(keyParts{secrets: sp, model: model})},
		routes: []api.Routes{
			api.JWKS{Source: model, MaxAge: policy.JWKSMaxAge, StaleWhileRevalidate: policy.StaleWhileRevalidate},
			api.Metadata{Document: in.cfg.LoginConfig.metadata(api.NewAuthServerMetadata(in.cfg.Issuer))},
		},
	}}, nil
}

// bestEffort runs a Redis-backed loop until ctx ends, logging each failure
// at warn and retrying with a capped exponential backoff. It never returns
// the loop's error on purpose: a background task's error fails the
// supervisor and /readyz, and a Redis outage must do neither, since Redis
// only speeds delivery up (the ledger feed still delivers, later).
func bestEffort(log *slog.Logger, what string, run func(context.Context) error) func(context.Context) error {
	const first, most = time.Second, 30 * time.Second
	return func(ctx context.Context) error {
		wait := first
		for ctx.Err() == nil {
			started := time.Now()
			err := run(ctx)
			if ctx.Err() != nil {
				break
			}
			if time.Since(started) > most {
				wait = first // it ran healthily for a while: this is a new outage
			}
			log.Warn(what+" stopped; retrying", "err", err, "retry_in", wait)
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
			wait = min(2*wait, most)
		}
		return ctx.Err()
	}
}
