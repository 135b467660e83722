package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/secrets"
	"github.com/authledger/authledger/secrets/infisical"
)

// InfisicalConfig is the Infisical part of the configuration (AUTHLEDGER_
// prefix). The credentials come from the environment only; the rest may
// come from config/infisical/<AUTHLEDGER_ENV>.yaml.
type InfisicalConfig struct {
	// Env (dev, staging, prod) selects config/infisical/<env>.yaml.
	Env string `env:"ENV"`
	// InfisicalConfigDir holds the per-environment files.
	InfisicalConfigDir string `env:"INFISICAL_CONFIG_DIR" envDefault:"config/infisical"`
	// InfisicalClientID and InfisicalClientSecret are the machine
	// identity's Universal Auth credentials.
	InfisicalClientID     redacted `env:"INFISICAL_CLIENT_ID"`
	InfisicalClientSecret redacted `env:"INFISICAL_CLIENT_SECRET"`
	// InfisicalKubernetesIdentityID selects Kubernetes Auth instead, with
	// the service-account token at InfisicalKubernetesTokenPath.
	InfisicalKubernetesIdentityID string `env:"INFISICAL_KUBERNETES_IDENTITY_ID"`
	InfisicalKubernetesTokenPath  string `env:"INFISICAL_KUBERNETES_TOKEN_PATH"`
	// InfisicalSyncEvery is the safety-net re-read of cached secrets
	// behind the webhooks. Default 5m.
	InfisicalSyncEvery time.Duration `env:"INFISICAL_SYNC_EVERY" envDefault:"5m"`
	// InfisicalBreakerOpenFor is how long the circuit breaker stays open
	// after 5 consecutive failed calls before one probe call. Default 10s.
	InfisicalBreakerOpenFor time.Duration `env:"INFISICAL_BREAKER_OPEN_FOR" envDefault:"10s"`
}

// infisicalEnvFile is config/infisical/<env>.yaml: where one environment's
// secrets live and how long they are cached. No credential belongs here.
type infisicalEnvFile struct {
	Project     string `yaml:"project"`
	Environment string `yaml:"environment"`
	Path        string `yaml:"path"`
	// Identity names the machine identity (for operators; the login
	// uses the credentials in the environment).
	Identity string `yaml:"identity"`
	// Auth is universal or kubernetes.
	Auth     string        `yaml:"auth"`
	CacheTTL time.Duration `yaml:"cache_ttl"`
}

var errInfisicalConfig = errors.New("infisical configuration")

// infisicalOptions derives the provider's options from AUTHLEDGER_SECRETS
// (infisical://<host>/<project>?env=<slug>&path=<folder>) and the
// environment's file. Where both name the project, environment or path,
// they must agree: a dev deployment pointed at a prod path stops here,
// before Infisical's own privileges would refuse it.
func infisicalOptions(raw string, c InfisicalConfig) (infisical.Options, error) {
	bad := func(format string, a ...any) (infisical.Options, error) {
		return infisical.Options{}, fmt.Errorf("%w: "+format, append([]any{errInfisicalConfig}, a...)...)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "infisical" || u.Host == "" {
		return bad("%sSECRETS must be infisical://<host>/<project>?env=<slug>&path=<folder>", envPrefix)
	}
	if u.User != nil {
		return bad("%sSECRETS must not carry credentials: use %sINFISICAL_CLIENT_ID and _CLIENT_SECRET", envPrefix, envPrefix)
	}
	q := u.Query()
	scheme := "https"
	if q.Get("insecure_http") == "1" {
		// Plain HTTP only to this machine (the test fake, a sidecar).
		host := u.Hostname()
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return bad("insecure_http=1 is allowed for a loopback host only")
		}
		scheme = "http"
	}
	opts := infisical.Options{SiteURL: scheme + "://" + u.Host, Project: strings.Trim(u.Path, "/"),
		Environment: q.Get("env"), Path: q.Get("path")}
	if c.Env != "" {
		file := filepath.Join(c.InfisicalConfigDir, c.Env+".yaml")
		b, err := os.ReadFile(file)
		if err != nil {
			return bad("%sENV=%s: %v", envPrefix, c.Env, err)
		}
		var f infisicalEnvFile
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&f); err != nil {
			return bad("%s: %v", file, err)
		}
		for _, pair := range []struct {
			what      string
			url, file *string
		}{{"project", &opts.Project, &f.Project}, {"environment", &opts.Environment, &f.Environment}, {"path", &opts.Path, &f.Path}} {
			a, b := *pair.url, *pair.file
			if pair.what == "path" && a != "" && b != "" {
				a, b = path.Clean("/"+a), path.Clean("/"+b)
			}
			switch {
			case a == "":
				*pair.url = b
			case b != "" && a != b:
				return bad("%sSECRETS names %s %q but %s says %q", envPrefix, pair.what, a, file, b)
			}
		}
		opts.CacheTTL = f.CacheTTL
		if f.Auth == "kubernetes" && c.InfisicalKubernetesIdentityID == "" {
			return bad("%s uses kubernetes auth: set %sINFISICAL_KUBERNETES_IDENTITY_ID", file, envPrefix)
		}
	}
	if opts.Project == "" || opts.Environment == "" {
		return bad("the project and the environment slug are required (in %sSECRETS or config/infisical/<env>.yaml)", envPrefix)
	}
	if c.InfisicalKubernetesIdentityID != "" {
		opts.Auth = infisical.Auth{KubernetesIdentityID: c.InfisicalKubernetesIdentityID, KubernetesTokenPath: c.InfisicalKubernetesTokenPath}
	} else {
		if c.InfisicalClientID == "" || c.InfisicalClientSecret == "" {
			return bad("set %sINFISICAL_CLIENT_ID and %sINFISICAL_CLIENT_SECRET (Universal Auth) or %sINFISICAL_KUBERNETES_IDENTITY_ID",
				envPrefix, envPrefix, envPrefix)
		}
		opts.Auth = infisical.Auth{ClientID: string(c.InfisicalClientID), ClientSecret: secrets.NewValue([]byte(c.InfisicalClientSecret))}
	}
	return opts, nil
}

// openInfisical opens the provider; with Infisical down, start-up is
// refused (docs/infisical/outage.md says why).
func openInfisical(ctx context.Context, raw string, c InfisicalConfig, reg prometheus.Registerer, log *slog.Logger) (*infisical.Provider, error) {
	opts, err := infisicalOptions(raw, c)
	if err != nil {
		return nil, err
	}
	opts.Registerer, opts.Logger, opts.BreakerOpenFor = reg, log, c.InfisicalBreakerOpenFor
	return infisical.Open(ctx, opts)
}

// buildInfisical adds what the Infisical provider brings to `serve`: the
// webhook that acts (routed whatever the provider; with another provider
// it acknowledges and ignores), the secrets readiness check (degraded
// while Infisical fails and the cache serves) and the sync worker.
func buildInfisical(in *infraParts, keys keyParts, limits api.RateLimiter) (contributions, error) {
	if in.cfg.InfisicalWebhookSecret == "" {
		in.log.Info("infisical webhook disabled: AUTHLEDGER_INFISICAL_WEBHOOK_SECRET is not set")
	}
	// Refused signatures spend the clients part's failure budgets.
	hook := api.InfisicalWebhook{Secret: []byte(in.cfg.InfisicalWebhookSecret), Log: in.log, Limits: limits}
	p, ok := keys.provider.(*infisical.Provider)
	if !ok {
		return contributions{routes: []api.Routes{hook}}, nil
	}
	events := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "authledger_infisical_webhook_events_total",
		Help: "Authenticated Infisical webhook deliveries by event and outcome (invalidated, ignored, rotation_failed)."}, []string{"event", "outcome"})
	if err := in.metrics.Register(events); err != nil {
		return contributions{}, fmt.Errorf("infisical: metrics: %w", err)
	}
	hook.Events = infisicalEvents{p: p, counter: events}
	every := in.cfg.InfisicalSyncEvery
	if every <= 0 {
		every = 5 * time.Minute
	}
	return contributions{
		routes: []api.Routes{hook},
		ready: []api.ReadyCheck{{Name: "secrets", Check: func(ctx context.Context) error {
			var d *infisical.Degraded
			if err := p.Health(ctx); errors.As(err, &d) {
				return &api.Degraded{Reason: d.Reason}
			} else if err != nil {
				return err
			}
			return nil
		}}},
		tasks: []task{{"infisical sync", func(ctx context.Context) error {
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-t.C:
					// A failed sync is not a failed task: the cache keeps
					// serving and /readyz says degraded.
					if err := p.Sync(ctx); err != nil && ctx.Err() == nil {
						in.log.Warn("infisical sync failed; serving cached secrets", "err", err)
					}
				}
			}
		}}},
	}, nil
}

// infisicalEvents is the webhook's view of the provider.
type infisicalEvents struct {
	p       *infisical.Provider
	counter *prometheus.CounterVec
}

func (e infisicalEvents) SecretsModified(project, environment, secretPath string) (int, bool) {
	if !e.p.Covers(project, environment, secretPath) {
		e.counter.WithLabelValues("secrets.modified", "ignored").Inc()
		return 0, false
	}
	n := e.p.Invalidate(secretPath)
	e.counter.WithLabelValues("secrets.modified", "invalidated").Inc()
	return n, true
}

func (e infisicalEvents) RotationFailed(project, environment, secretPath string) {
	outcome := "rotation_failed"
	if !e.p.Covers(project, environment, secretPath) {
		outcome = "ignored"
	}
	e.counter.WithLabelValues("secrets.rotation-failed", outcome).Inc()
}
