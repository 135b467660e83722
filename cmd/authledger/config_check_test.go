package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUnknownVariablesAreNamedWithTheNearestSetting(t *testing.T) {
	tests := []struct {
		environ []string
		want    []string // each warning, in order; "" fragments none
	}{
		{[]string{"AUTHLEDGER_LISEN=x"}, []string{"AUTHLEDGER_LISEN is not a setting and is ignored; did you mean AUTHLEDGER_LISTEN?"}},
		{[]string{"AUTHLEDGER_REDIS=redis://x"}, []string{"did you mean AUTHLEDGER_REDIS_URL?"}},
		{[]string{"AUTHLEDGER_refresh_grace=5s"}, []string{"did you mean AUTHLEDGER_REFRESH_GRACE?"}},
		{[]string{"AUTHLEDGER_COMPLETELY_UNRELATED_THING=1"}, []string{"AUTHLEDGER_COMPLETELY_UNRELATED_THING is not a setting and is ignored"}},
		{[]string{"AUTHLEDGER_LISTEN=x", "AUTHLEDGER_CONFIG=f", "AUTHLEDGER_TEST_PG=x", "HOME=/root", "AUTHLEDGER_KEY_CHECK_EVERY=1m"}, nil},
	}
	for _, tt := range tests {
		got := unknownVariables(tt.environ)
		if len(got) != len(tt.want) {
			t.Fatalf("%v: warnings %q, want %d", tt.environ, got, len(tt.want))
		}
		for i := range got {
			if !strings.Contains(got[i], tt.want[i]) {
				t.Errorf("%v: warning %q, want it to contain %q", tt.environ, got[i], tt.want[i])
			}
		}
		if len(got) == 1 && strings.Contains(tt.want[0], "UNRELATED") && strings.Contains(got[0], "did you mean") {
			t.Errorf("a name far from every setting got a suggestion: %q", got[0])
		}
	}
}

func TestUnknownYAMLKeyRefusesTheFile(t *testing.T) {
	clearEnv(t)
	path := filepath.Join(t.TempDir(), "authledger.yaml")
	if err := os.WriteFile(path, []byte("lisen: 127.0.0.1:9999\nissuer: https://file.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AUTHLEDGER_CONFIG", path)
	_, err := LoadConfig()
	if err == nil || !strings.Contains(err.Error(), `unknown key "lisen"`) || !strings.Contains(err.Error(), `did you mean "listen"`) {
		t.Fatalf("err = %v, want the unknown key named with the nearest one", err)
	}
	if v, set := os.LookupEnv("AUTHLEDGER_ISSUER"); set {
		t.Fatalf("a refused file still exported issuer=%q", v)
	}
}

func TestIssuerFollowsAChangedListenAddress(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		wantIssuer string
		wantWarn   bool
	}{
		{"defaults agree", nil, "http://localhost:8080", false},
		{"wildcard listen becomes localhost", map[string]string{"AUTHLEDGER_LISTEN": "0.0.0.0:9090"}, "http://localhost:9090", true},
		{"loopback listen", map[string]string{"AUTHLEDGER_LISTEN": "127.0.0.1:7000"}, "http://localhost:7000", true},
		{"a named host is kept", map[string]string{"AUTHLEDGER_LISTEN": "10.1.2.3:8443"}, "http://10.1.2.3:8443", true},
		{"an explicit issuer wins", map[string]string{"AUTHLEDGER_LISTEN": "0.0.0.0:9090", "AUTHLEDGER_ISSUER": "https://auth.example"}, "https://auth.example", false},
		{"the default port on another address", map[string]string{"AUTHLEDGER_LISTEN": "0.0.0.0:8080"}, "http://localhost:8080", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			l, err := loadConfig()
			if err != nil {
				t.Fatal(err)
			}
			if l.Issuer != tt.wantIssuer {
				t.Fatalf("issuer %q, want %q", l.Issuer, tt.wantIssuer)
			}
			warned := false
			for _, w := range l.warnings {
				warned = warned || strings.Contains(w, "AUTHLEDGER_ISSUER is not set")
			}
			if warned != tt.wantWarn {
				t.Fatalf("warned about the issuer = %v, want %v (%q)", warned, tt.wantWarn, l.warnings)
			}
		})
	}
}

func TestConfigCommandRedactsAndNamesSources(t *testing.T) {
	clearEnv(t)
	path := filepath.Join(t.TempDir(), "authledger.yaml")
	if err := os.WriteFile(path, []byte("log_level: debug\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AUTHLEDGER_CONFIG", path)
	t.Setenv("AUTHLEDGER_STORE", "postgres://app:s3cr3t-pw@db.internal/authledger")
	t.Setenv("AUTHLEDGER_INFISICAL_WEBHOOK_SECRET", "whsec-very-secret-value")
	t.Setenv("AUTHLEDGER_LISTNE", "oops")

	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"config", "--json"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, secret := range []string{"s3cr3t-pw", "whsec-very-secret-value"} {
		if strings.Contains(out.String()+errOut.String(), secret) {
			t.Fatalf("config printed a secret %q:\n%s", secret, out.String())
		}
	}
	var entries []configEntry
	if err := json.Unmarshal(out.Bytes(), &entries); err != nil {
		t.Fatal(err)
	}
	got := map[string]configEntry{}
	for _, e := range entries {
		got[e.Name] = e
	}
	want := map[string]configEntry{
		"AUTHLEDGER_STORE":                    {Value: "postgres://app:xxxxx@db.internal/authledger", Source: "env"},
		"AUTHLEDGER_READMODELS":               {Value: "postgres://app:xxxxx@db.internal/authledger", Source: "derived from AUTHLEDGER_STORE"},
		"AUTHLEDGER_LOG_LEVEL":                {Value: "debug", Source: "file " + path},
		"AUTHLEDGER_INFISICAL_WEBHOOK_SECRET": {Value: "[redacted]", Source: "env"},
		"AUTHLEDGER_REFRESH_GRACE":            {Value: "10s", Source: "default"},
		"AUTHLEDGER_KEY_ROTATION_INTERVAL":    {Value: "24h0m0s", Source: "default"},
	}
	for name, w := range want {
		g := got[name]
		if g.Value != w.Value || g.Source != w.Source {
			t.Errorf("%s = %q from %q, want %q from %q", name, g.Value, g.Source, w.Value, w.Source)
		}
	}
	if !strings.Contains(errOut.String(), "did you mean AUTHLEDGER_LISTEN?") {
		t.Errorf("stderr lacks the unknown-variable warning: %s", errOut.String())
	}
}

func TestConfigCommandExitCodes(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		code int
	}{
		{[]string{"config"}, nil, 0},
		{[]string{"config", "--help"}, nil, 0},
		{[]string{"config", "--bogus"}, nil, 2},
		{[]string{"config", "extra"}, nil, 2},
		{[]string{"config"}, map[string]string{"AUTHLEDGER_LOG_LEVEL": "loud"}, 1},
	}
	for _, tt := range tests {
		clearEnv(t)
		for k, v := range tt.env {
			t.Setenv(k, v)
		}
		var out, errOut bytes.Buffer
		if code := run(context.Background(), tt.args, &out, &errOut); code != tt.code {
			t.Errorf("%v %v: exit %d, want %d (%s)", tt.args, tt.env, code, tt.code, errOut.String())
		}
	}
}
