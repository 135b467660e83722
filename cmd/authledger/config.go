package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"gopkg.in/yaml.v3"
)

// Config is the whole service configuration. Every field is an
// AUTHLEDGER_* environment variable; an optional YAML file named by
// AUTHLEDGER_CONFIG may set the same keys (lower case, without the prefix),
// and the environment wins over the file. No secret has a default: the
// embedded profile generates what it needs on first start.
type Config struct {
	// Listen is the HTTP listen address.
	Listen string `env:"LISTEN" envDefault:"127.0.0.1:8080"`
	// Issuer is the iss of every token and the base of the metadata URLs.
	Issuer string `env:"ISSUER" envDefault:"http://localhost:8080"`
	// DataDir holds the embedded profile's files (ledger, read models, secrets).
	DataDir string `env:"DATA_DIR" envDefault:"./data"`
	// Store is the ledger: sqlite:///path or postgres://… (default: sqlite in DataDir).
	Store string `env:"STORE"`
	// ReadModels is the read-model database; default: the ledger's database
	// for PostgreSQL, a separate SQLite file in DataDir for SQLite.
	ReadModels string `env:"READMODELS"`
	// RedisURL enables Redis for sessions, caches, rate limits and fan-out.
	RedisURL string `env:"REDIS_URL"`
	// TrustedProxies are the CIDRs of the load balancers in front of the
	// service (comma-separated). Only from them is X-Forwarded-For believed
	// for the caller's address (rate limits); empty: the peer address.
	TrustedProxies []string `env:"TRUSTED_PROXIES" envSeparator:","`
	// AssertionAcceptTokenEndpointAud also accepts the token endpoint URL
	// (issuer + /oauth2/token) as the aud of a private_key_jwt assertion,
	// for clients not yet sending the issuer. Off by default: RFC 7523bis
	// asks for the issuer identifier as a single string only.
	AssertionAcceptTokenEndpointAud bool `env:"ASSERTION_ACCEPT_TOKEN_ENDPOINT_AUD" envDefault:"false"`
	// Secrets is the secret provider: local:///dir or infisical://… (default: local in DataDir).
	Secrets string `env:"SECRETS"`
	// InfisicalWebhookSecret is the secret key of the Infisical webhook;
	// empty refuses every POST /v1/webhooks/infisical (see wire_webhooks.go).
	InfisicalWebhookSecret redacted `env:"INFISICAL_WEBHOOK_SECRET"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `env:"LOG_LEVEL" envDefault:"info"`
	// ShutdownTimeout bounds draining on SIGTERM.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"15s"`

	// The key-rotation and token-lifecycle settings (wire_keys.go,
	// wire_tokens.go) are embedded so one LoadConfig reads them and one
	// Validate names every bad setting before anything starts.
	KeysConfig
	TokensConfig
	LoginConfig // wire_login.go
}

// envPrefix is the prefix of every configuration variable.
const envPrefix = "AUTHLEDGER_"

// LoadConfig reads the optional YAML file, then the environment, fills the
// defaults derived from DataDir and validates.
func LoadConfig() (Config, error) {
	if path := os.Getenv(envPrefix + "CONFIG"); path != "" {
		if err := applyYAML(path); err != nil {
			return Config{}, err
		}
	}
	var c Config
	if err := env.ParseWithOptions(&c, env.Options{Prefix: envPrefix}); err != nil {
		return Config{}, namedParseErrors(err)
	}
	c.fillDefaults()
	return c, c.Validate()
}

// namedParseErrors rewrites the env library's errors, which name Go fields,
// so that each names the variable an operator actually sets.
func namedParseErrors(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return fmt.Errorf("config: %w", err)
	}
	t := reflect.TypeFor[Config]()
	out := make([]error, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if f, ok := t.FieldByName(pe.Name); ok {
				out = append(out, fmt.Errorf("%s%s: %w", envPrefix, f.Tag.Get("env"), pe.Err))
				continue
			}
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

// applyYAML exports the file's keys as AUTHLEDGER_* variables unless the
// environment already sets them.
func applyYAML(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	var m map[string]string
	if err := yaml.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	for k, v := range m {
		name := envPrefix + strings.ToUpper(k)
		if _, set := os.LookupEnv(name); !set {
			if err := os.Setenv(name, v); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Config) fillDefaults() {
	if c.Store == "" {
		c.Store = "sqlite://" + filepath.ToSlash(filepath.Join(c.DataDir, "ledger.db"))
	}
	if c.ReadModels == "" {
		if strings.HasPrefix(c.Store, "postgres") {
			c.ReadModels = c.Store
		} else {
			c.ReadModels = "sqlite://" + filepath.ToSlash(filepath.Join(c.DataDir, "readmodels.db"))
		}
	}
	if c.Secrets == "" {
		c.Secrets = "local://" + filepath.ToSlash(filepath.Join(c.DataDir, "secrets"))
	}
	c.TokensConfig.normalize()
}

// Validate names every bad setting at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s%s: "+format, append([]any{envPrefix, name}, a...)...))
	}
	if c.Listen == "" {
		bad("LISTEN", "must not be empty")
	}
	if u, err := url.Parse(c.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		bad("ISSUER", "must be an http(s) URL without query or fragment, got %q", c.Issuer)
	}
	if !hasScheme(c.Store, "sqlite", "postgres", "postgresql") {
		bad("STORE", "must be sqlite:///path or postgres://…, got scheme of %q", redactURL(c.Store))
	}
	if !hasScheme(c.ReadModels, "sqlite", "postgres", "postgresql") {
		bad("READMODELS", "must be sqlite:///path or postgres://…, got %q", redactURL(c.ReadModels))
	}
	if c.RedisURL != "" && !hasScheme(c.RedisURL, "redis", "rediss") {
		bad("REDIS_URL", "must be redis://… or rediss://…")
	}
	for _, p := range c.TrustedProxies {
		if _, _, err := net.ParseCIDR(strings.TrimSpace(p)); err != nil {
			bad("TRUSTED_PROXIES", "must be comma-separated CIDRs (10.0.0.0/8), got %q", p)
		}
	}
	if !hasScheme(c.Secrets, "local", "infisical") {
		bad("SECRETS", "must be local:///dir or infisical://…, got %q", redactURL(c.Secrets))
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		bad("LOG_LEVEL", "must be debug, info, warn or error, got %q", c.LogLevel)
	}
	if c.ShutdownTimeout <= 0 {
		bad("SHUTDOWN_TIMEOUT", "must be positive")
	}
	if _, err := c.KeysConfig.policy(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.TokensConfig.validate()...)
	errs = append(errs, c.LoginConfig.validate(c.Issuer)...)
	return errors.Join(errs...)
}

func hasScheme(raw string, schemes ...string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return true
		}
	}
	return false
}

// redactURL drops credentials so a bad setting can be named in an error
// without leaking a password.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable)"
	}
	return u.Redacted()
}
