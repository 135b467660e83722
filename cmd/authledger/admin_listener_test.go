package main

import (
	"strings"
	"testing"
)

func TestIsAdminPath(t *testing.T) {
	for p, want := range map[string]bool{
		"/metrics": true, "/readyz": true, "/v1/admin": true, "/v1/admin/services": true, "/v1/admin/projections/x/rebuild": true,
		"/metrics/": true, "/METRICS": true, "/v1/x/../admin/services": true, "//v1/admin/services": true, "/v1/Admin/services": true,
		"/healthz": false, "/v1/administrator": false, "/v1/revocations": false, "/.well-known/jwks.json": false, "/oauth2/token": false,
		"/metricsx": false, "/v1/sessions": false,
	} {
		if got := isAdminPath(p); got != want {
			t.Errorf("isAdminPath(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestAccessLogAndAdminListenSettings(t *testing.T) {
	base := Config{Listen: "127.0.0.1:8080", Issuer: "https://as.test", Store: "sqlite:///x", ReadModels: "sqlite:///y",
		Secrets: "local:///z", LogLevel: "info", ShutdownTimeout: 1}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		bad  string
	}{
		{"the defaults", func(*Config) {}, ""},
		{"the access log off", func(c *Config) { c.AccessLog = "off" }, ""},
		{"the access log at debug", func(c *Config) { c.AccessLog = "debug" }, ""},
		{"the access log at error is refused: it would hide requests that matter", func(c *Config) { c.AccessLog = "error" }, "AUTHLEDGER_ACCESS_LOG"},
		{"an unknown access-log level is refused", func(c *Config) { c.AccessLog = "loud" }, "AUTHLEDGER_ACCESS_LOG"},
		{"an admin listener on another port", func(c *Config) { c.AdminListen = "127.0.0.1:9090" }, ""},
		{"an admin listener on the public address is refused", func(c *Config) { c.AdminListen = c.Listen }, "AUTHLEDGER_ADMIN_LISTEN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.edit(&c)
			err := c.Validate()
			if tc.bad == "" && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)) {
				t.Fatalf("Validate() = %v, want an error naming %s", err, tc.bad)
			}
		})
	}
}
