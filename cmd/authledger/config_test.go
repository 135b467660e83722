package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authledger/authledger/domain/refreshtoken"
)

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr []string // every fragment must appear in the joined error
		check   func(t *testing.T, c Config)
	}{
		{
			name: "no variables give the embedded profile inside the data dir",
			env:  map[string]string{"AUTHLEDGER_DATA_DIR": "/tmp/al"},
			check: func(t *testing.T, c Config) {
				if c.Store != "sqlite:///tmp/al/ledger.db" || c.ReadModels != "sqlite:///tmp/al/readmodels.db" || c.Secrets != "local:///tmp/al/secrets" {
					t.Fatalf("defaults: store %q readmodels %q secrets %q", c.Store, c.ReadModels, c.Secrets)
				}
			},
		},
		{
			name: "a postgres ledger keeps read models in the same database",
			env:  map[string]string{"AUTHLEDGER_STORE": "postgres://u@db/authledger"},
			check: func(t *testing.T, c Config) {
				if c.ReadModels != c.Store {
					t.Fatalf("read models %q, want the ledger's %q", c.ReadModels, c.Store)
				}
			},
		},
		{
			name: "every bad setting is named at once",
			env: map[string]string{
				"AUTHLEDGER_ISSUER":    "ftp://x",
				"AUTHLEDGER_STORE":     "mysql://u:hunter2@db/x",
				"AUTHLEDGER_REDIS_URL": "memcached://x",
				"AUTHLEDGER_LOG_LEVEL": "loud",
			},
			wantErr: []string{"AUTHLEDGER_ISSUER", "AUTHLEDGER_STORE", "AUTHLEDGER_REDIS_URL", "AUTHLEDGER_LOG_LEVEL"},
		},
		{
			name: "key and token settings are validated with the rest, before anything starts",
			env: map[string]string{
				"AUTHLEDGER_LOG_LEVEL":            "loud",
				"AUTHLEDGER_REFRESH_GRACE":        "45s",
				"AUTHLEDGER_ALLOWED_ORIGINS":      "https://app.example,not an origin",
				"AUTHLEDGER_KEY_PUBLICATION_LEAD": "1m", // shorter than the JWKS max-age
			},
			wantErr: []string{"AUTHLEDGER_LOG_LEVEL", "AUTHLEDGER_REFRESH_GRACE", "AUTHLEDGER_ALLOWED_ORIGINS", "not an origin", "AUTHLEDGER_KEY_*"},
		},
		{
			name: "refresh retries get the same successor for 10 s by default",
			env:  map[string]string{},
			check: func(t *testing.T, c Config) {
				if c.RefreshGrace != 10*time.Second {
					t.Fatalf("default refresh grace %v, want 10s", c.RefreshGrace)
				}
				if c.RefreshGrace != refreshtoken.DefaultGrace {
					t.Fatalf("default refresh grace %v, want 10s (refreshtoken.DefaultGrace %v)", c.RefreshGrace, refreshtoken.DefaultGrace)
				}
			},
		},
		{
			name: "AUTHLEDGER_REFRESH_GRACE=0s still switches the grace off",
			env:  map[string]string{"AUTHLEDGER_REFRESH_GRACE": "0s"},
			check: func(t *testing.T, c Config) {
				if c.RefreshGrace != 0 {
					t.Fatalf("refresh grace %v, want 0", c.RefreshGrace)
				}
			},
		},
		{
			name:    "a malformed embedded setting names its variable",
			env:     map[string]string{"AUTHLEDGER_REFRESH_GRACE": "soon"},
			wantErr: []string{"AUTHLEDGER_REFRESH_GRACE"},
		},
		{
			name: "allowed origins are normalised to scheme://host",
			env:  map[string]string{"AUTHLEDGER_ALLOWED_ORIGINS": " https://app.example/ ,http://localhost:3000"},
			check: func(t *testing.T, c Config) {
				if got := strings.Join(c.AllowedOrigins, ","); got != "https://app.example,http://localhost:3000" {
					t.Fatalf("origins %q", got)
				}
			},
		},
		{
			name: "the token endpoint is not a private_key_jwt audience unless switched on",
			env:  map[string]string{},
			check: func(t *testing.T, c Config) {
				if c.AssertionAcceptTokenEndpointAud {
					t.Fatal("the RFC 7523bis compatibility switch is on by default")
				}
			},
		},
		{
			name: "AUTHLEDGER_ASSERTION_ACCEPT_TOKEN_ENDPOINT_AUD switches it on",
			env:  map[string]string{"AUTHLEDGER_ASSERTION_ACCEPT_TOKEN_ENDPOINT_AUD": "true"},
			check: func(t *testing.T, c Config) {
				if !c.AssertionAcceptTokenEndpointAud {
					t.Fatal("the switch was not read")
				}
			},
		},
		{
			name:    "a malformed duration is refused",
			env:     map[string]string{"AUTHLEDGER_SHUTDOWN_TIMEOUT": "soon"},
			wantErr: []string{"SHUTDOWN_TIMEOUT"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := LoadConfig()
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatal("want an error, got none")
				}
				for _, frag := range tt.wantErr {
					if !strings.Contains(err.Error(), frag) {
						t.Errorf("error does not name %s:\n%v", frag, err)
					}
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error leaks a password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestYAMLFileSetsKeysAndEnvironmentWins(t *testing.T) {
	clearEnv(t)
	path := filepath.Join(t.TempDir(), "authledger.yaml")
	if err := os.WriteFile(path, []byte("listen: 127.0.0.1:9999\nissuer: https://file.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AUTHLEDGER_CONFIG", path)
	t.Setenv("AUTHLEDGER_ISSUER", "https://env.example")
	c, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9999" || c.Issuer != "https://env.example" {
		t.Fatalf("listen %q issuer %q", c.Listen, c.Issuer)
	}
}

// clearEnv unsets every AUTHLEDGER_ variable for the test (t.Setenv restores them).
func clearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, envPrefix) {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}
