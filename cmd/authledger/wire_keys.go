package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"authledger/api"
	"authledger/client/verifier"
	cmds "authledger/commands"
	"authledger/domain/keyring"
	"authledger/eventstore"
	"authledger/readmodels/jwks"
	"authledger/secrets"
	"authledger/secrets/local"
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

// openSecrets opens the provider named by AUTHLEDGER_SECRETS.
func openSecrets(raw string) (secrets.Provider, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("secrets: AUTHLEDGER_SECRETS is not a URL")
	}
	switch u.Scheme {
	case "local":
		return local.Open(sqlitePath(u), local.Options{})
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

// wireKeys builds the secret provider, key commands, rotation scheduler,
// JWKS read model, signer, bearer verifier and the JWKS/metadata routes.
// It runs after the revocations step (a.revocations) and before the steps
// that need a.signer and a.bearer.
func wireKeys(ctx context.Context, a *app) error {
	kc := a.cfg.KeysConfig
	policy, err := kc.policy()
	if err != nil {
		return err
	}
	sp, err := openSecrets(a.cfg.Secrets)
	if err != nil {
		return err
	}
	a.secrets = sp
	keys, err := newKeys(a.store, sp, policy, a.bus)
	if err != nil {
		return err
	}

	model := jwks.New()
	if err := model.Reload(ctx, a.store); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	if _, ok := model.ActiveKey(); !ok {
		// First start (or every key revoked): sign from the first request.
		res, err := keys.Tick(ctx, cmds.Metadata{Actor: "serve"})
		if err != nil {
			return fmt.Errorf("keys: first key: %w", err)
		}
		a.log.Info("keys: key ring initialised", "kid", res.Published)
		if err := model.Reload(ctx, a.store); err != nil {
			return fmt.Errorf("keys: %w", err)
		}
	}
	// The model is a projections.MemoryProjection: the runner feeds it
	// (Apply skips what Reload already folded). Without a runner it
	// follows the ledger feed itself.
	if a.runner != nil {
		if err := a.runner.Register(model); err != nil {
			return fmt.Errorf("keys: %w", err)
		}
	} else {
		a.background = append(a.background, func(ctx context.Context) error { return model.Follow(ctx, a.store) })
	}
	// The bus only speeds delivery up; a Redis outage must not stop serving.
	a.background = append(a.background, bestEffort(a.log, "keys: JWKS invalidation listener", func(ctx context.Context) error {
		return jwks.ListenInvalidations(ctx, a.bus, model, a.store)
	}))

	failures := cmds.FailuresCounter()
	if err := a.metrics.Register(failures); err != nil {
		return fmt.Errorf("keys: metrics: %w", err)
	}
	sched := cmds.NewScheduler(cmds.SchedulerConfig{Keys: keys, Every: kc.KeyCheckEvery, Failures: failures, Log: a.log})
	a.background = append(a.background, sched.Run)

	signer, err := cmds.NewJWTSigner(cmds.JWTSignerConfig{Issuer: a.cfg.Issuer, Store: a.store, Secrets: sp, Keys: model})
	if err != nil {
		return err
	}
	a.signer = signer
	a.keySource = model

	// authledger's own APIs accept tokens whose aud holds the issuer URL,
	// unless revoked (by jti, sid or family): the revocations step runs
	// before this one.
	if a.revocations == nil {
		return errors.New("keys: no revocation set wired; refusing to build a bearer verifier that ignores revocations")
	}
	own, err := verifier.New(verifier.Config{Issuer: a.cfg.Issuer, Audiences: []string{a.cfg.Issuer}, Keys: model, Leeway: 5 * time.Second, Revocation: a.revocations})
	if err != nil {
		return err
	}
	a.bearer = api.BearerVerifierFunc(func(ctx context.Context, raw string) (api.Principal, error) {
		c, err := own.Verify(ctx, raw)
		if err != nil {
			return api.Principal{}, err
		}
		return api.Principal{Subject: c.Subject, ClientID: c.ClientID, Scopes: c.Scope}, nil
	})

	a.ready = append(a.ready, api.ReadyCheck{Name: "signing_key", Check: func(context.Context) error {
		if _, ok := model.ActiveKey(); !ok {
			return cmds.ErrNoActiveKey
		}
		return nil
	}})
	checkpoint := func(ctx context.Context) (string, error) {
		head, err := a.store.Head(ctx)
		if err != nil {
			return "", err
		}
		return signer.SignCheckpoint(ctx, head)
	}
	a.routes = append(a.routes,
		api.JWKS{Source: model, MaxAge: policy.JWKSMaxAge, StaleWhileRevalidate: policy.StaleWhileRevalidate},
		api.Metadata{Document: api.NewAuthServerMetadata(a.cfg.Issuer)},
		api.AuditCheckpoint{Sign: checkpoint, Guard: api.RequireScope(a.bearer, api.AuditReadScope)},
	)
	return nil
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
