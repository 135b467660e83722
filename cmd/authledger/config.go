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
	"sort"
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
	// AdminListen, when set, is a second listener for /metrics, /readyz
	// and /v1/admin/*, which the Listen one then refuses, so operations
	// traffic can be firewalled apart (README, "An admin port"). Empty: one
	// listener serves everything.
	AdminListen string `env:"ADMIN_LISTEN"`
	// Issuer is the iss of every token and the base of the metadata URLs.
	Issuer string `env:"ISSUER" envDefault:"http://localhost:8080"`
	// DataDir holds the embedded profile's files (ledger, read models, secrets).
	DataDir string `env:"DATA_DIR" envDefault:"./data"`
	// Store is the ledger: sqlite:///path, postgres://… or esdb://…
	// (EventStoreDB/KurrentDB, docs/esdb.md); default: sqlite in DataDir.
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
	// AccessLog is the level of the one line logged per request (debug,
	// info, warn), or off.
	AccessLog string `env:"ACCESS_LOG" envDefault:"info"`
	// ShutdownTimeout bounds draining on SIGTERM.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"15s"`

	// The key-rotation and token-lifecycle settings (wire_keys.go,
	// wire_tokens.go) are embedded so one LoadConfig reads them and one
	// Validate names every bad setting before anything starts.
	KeysConfig
	TokensConfig
	RateLimitConfig
	HardeningConfig
	AuditConfig
	InfisicalConfig
	LoginConfig // wire_login.go
}

// envPrefix is the prefix of every configuration variable.
const envPrefix = "AUTHLEDGER_"

// LoadConfig reads the optional YAML file, then the environment, fills the
// defaults derived from DataDir and validates.
func LoadConfig() (Config, error) {
	l, err := loadConfig()
	return l.Config, err
}

// loadedConfig is a Config with where each value came from and what the
// loader warns about; serve logs the warnings and `authledger config` shows
// both.
type loadedConfig struct {
	Config
	sources  sources
	warnings []string
}

func loadConfig() (loadedConfig, error) {
	l := loadedConfig{sources: environSources(), warnings: unknownVariables(os.Environ())}
	if path := os.Getenv(envPrefix + "CONFIG"); path != "" {
		applied, err := applyYAML(path)
		if err != nil {
			return l, err
		}
		for _, k := range applied {
			l.sources[k] = "file " + path
		}
	}
	if err := env.ParseWithOptions(&l.Config, env.Options{Prefix: envPrefix}); err != nil {
		return l, namedParseErrors(err)
	}
	if l.sources.of("ISSUER") == "default" && l.sources.of("LISTEN") != "default" {
		if iss, ok := derivedIssuer(l.Listen); ok && iss != l.Issuer {
			l.Issuer = iss
			l.sources["ISSUER"] = "derived from " + envPrefix + "LISTEN"
			l.warnings = append(l.warnings, fmt.Sprintf("%sISSUER is not set: using %s, derived from %sLISTEN; set %sISSUER to the URL clients reach", envPrefix, iss, envPrefix, envPrefix))
		}
	}
	readModelsFrom := "DATA_DIR"
	if strings.HasPrefix(l.Store, "postgres") {
		readModelsFrom = "STORE"
	}
	for name, from := range map[string]string{"STORE": "DATA_DIR", "READMODELS": readModelsFrom, "SECRETS": "DATA_DIR"} {
		if l.sources.of(name) == "default" {
			l.sources[name] = "derived from " + envPrefix + from
		}
	}
	l.fillDefaults()
	return l, l.Validate()
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
// environment already sets them, and returns the names it exported. A key
// that is not a setting refuses the file: a typo in a file is never meant.
func applyYAML(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	var m map[string]string
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var bad []error
	for _, k := range keys {
		if err := unknownFileKey(k); err != nil {
			bad = append(bad, fmt.Errorf("config file %s: %w", path, err))
		}
	}
	if len(bad) > 0 {
		return nil, errors.Join(bad...)
	}
	var applied []string
	for _, k := range keys {
		name := strings.ToUpper(k)
		if _, set := os.LookupEnv(envPrefix + name); !set {
			if err := os.Setenv(envPrefix+name, m[k]); err != nil {
				return nil, err
			}
			applied = append(applied, name)
		}
	}
	return applied, nil
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
	if c.AdminListen != "" && c.AdminListen == c.Listen {
		bad("ADMIN_LISTEN", "must differ from %sLISTEN (leave it empty to serve everything on one port)", envPrefix)
	}
	if u, err := url.Parse(c.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		bad("ISSUER", "must be an http(s) URL without query or fragment, got %q", c.Issuer)
	}
	if !hasScheme(c.Store, "sqlite", "postgres", "postgresql", "esdb", "esdb+discover") {
		bad("STORE", "must be sqlite:///path, postgres://… or esdb://…, got scheme of %q", redactURL(c.Store))
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
	if hasScheme(c.Secrets, "infisical") {
		if _, err := infisicalOptions(c.Secrets, c.InfisicalConfig); err != nil {
			errs = append(errs, err)
		}
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		bad("LOG_LEVEL", "must be debug, info, warn or error, got %q", c.LogLevel)
	}
	if _, _, err := c.accessLogLevel(); err != nil {
		bad("ACCESS_LOG", "%v", err)
	}
	if c.ShutdownTimeout <= 0 {
		bad("SHUTDOWN_TIMEOUT", "must be positive")
	}
	if _, err := c.KeysConfig.policy(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.TokensConfig.validate()...)
	_, rlErrs := c.RateLimitConfig.limits()
	errs = append(errs, rlErrs...)
	errs = append(errs, c.HardeningConfig.validate()...)
	errs = append(errs, c.AuditConfig.validate()...)
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

// accessLogLevel is AccessLog as a level; on is false for "off". Empty
// (a Config built in code) is the default, info.
func (c Config) accessLogLevel() (lvl slog.Level, on bool, err error) {
	switch {
	case strings.EqualFold(c.AccessLog, "off"):
		return 0, false, nil
	case c.AccessLog == "":
		return slog.LevelInfo, true, nil
	}
	if err := lvl.UnmarshalText([]byte(c.AccessLog)); err != nil || lvl > slog.LevelWarn {
		return 0, false, fmt.Errorf("must be debug, info, warn or off, got %q", c.AccessLog)
	}
	return lvl, true, nil
}
