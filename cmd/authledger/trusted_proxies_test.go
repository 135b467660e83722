package main

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authledger/authledger/api"
)

func TestTrustedProxiesDecideWhichForwardedAddressIsBelieved(t *testing.T) {
	t.Parallel()
	lb := []string{"10.9.0.0/16", "2001:db8:ffff::/48"}
	cases := []struct {
		name    string
		trusted []string
		peer    string
		xff     string
		want    string
		bad     bool // ErrMalformedForwardedFor
	}{
		{"without trusted proxies X-Forwarded-For is ignored", nil, "10.9.0.1", "203.0.113.9", "10.9.0.1", false},
		{"without trusted proxies even a loopback peer's header is ignored", nil, "127.0.0.1", "203.0.113.9", "127.0.0.1", false},
		{"a trusted proxy's X-Forwarded-For names the caller", lb, "10.9.0.1", "203.0.113.9", "203.0.113.9", false},
		{"an IPv6 trusted proxy is honoured", lb, "[2001:db8:ffff::1]", "203.0.113.9", "203.0.113.9", false},
		{"an untrusted peer's X-Forwarded-For is ignored", lb, "198.51.100.7", "203.0.113.9", "198.51.100.7", false},
		{"loopback is not trusted unless configured", lb, "127.0.0.1", "203.0.113.9", "127.0.0.1", false},
		{"a private range outside the list is not trusted", lb, "192.168.1.1", "203.0.113.9", "192.168.1.1", false},
		{"a chain through trusted proxies yields the first untrusted hop", lb, "10.9.0.1", "203.0.113.9, 10.9.0.7", "203.0.113.9", false},
		{"a spoofed left-most entry is not believed", lb, "10.9.0.1", "1.1.1.1, 203.0.113.9", "203.0.113.9", false},
		{"no header means the peer", lb, "10.9.0.1", "", "10.9.0.1", false},
		{"a bracketed IPv6 entry is read", lb, "10.9.0.1", "[2001:db8::7]", "2001:db8::7", false},
		{"an IPv4-mapped entry is its IPv4 address", lb, "10.9.0.1", "::ffff:203.0.113.9", "203.0.113.9", false},
		{"a trusted proxy's unreadable header is refused, not charged to the proxy", lb, "10.9.0.1", "not-an-address", "", true},
		{"an unreadable hop after the caller is refused", lb, "10.9.0.1", "203.0.113.9, bogus", "", true},
		{"an entry with a port is refused", lb, "10.9.0.1", "203.0.113.9:4711", "", true},
		{"an empty entry is refused", lb, "10.9.0.1", "203.0.113.9,", "", true},
		{"an unreadable entry left of the caller is never read", lb, "10.9.0.1", "bogus, 203.0.113.9", "203.0.113.9", false},
		{"an untrusted peer's unreadable header is ignored", lb, "198.51.100.7", "not-an-address", "198.51.100.7", false},
		{"without trusted proxies an unreadable header is ignored", nil, "10.9.0.1", "not-an-address", "10.9.0.1", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/oauth2/token", nil)
			req.RemoteAddr = tc.peer + ":40000"
			if tc.xff != "" {
				req.Header.Set("X-Forwarded-For", tc.xff)
			}
			got, err := clientAddress(tc.trusted)(req)
			if tc.bad {
				if !errors.Is(err, api.ErrMalformedForwardedFor) {
					t.Fatalf("caller address %q, %v; want ErrMalformedForwardedFor", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("caller address %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestTrustedProxiesMustBeCIDRs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		proxies []string
		bad     bool
	}{
		{"empty is the default", nil, false},
		{"IPv4 and IPv6 CIDRs are accepted", []string{"10.0.0.0/8", " 2001:db8::/32"}, false},
		{"a bare address is refused", []string{"10.0.0.1"}, true},
		{"garbage is refused", []string{"10.0.0.0/8", "proxy.internal"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{Listen: ":0", Issuer: "https://as.test", Store: "sqlite:///x", ReadModels: "sqlite:///y",
				Secrets: "local:///z", LogLevel: "info", ShutdownTimeout: 1, TrustedProxies: tc.proxies}
			err := c.Validate()
			if got := err != nil && strings.Contains(err.Error(), "AUTHLEDGER_TRUSTED_PROXIES"); got != tc.bad {
				t.Fatalf("Validate() = %v, want an AUTHLEDGER_TRUSTED_PROXIES error: %v", err, tc.bad)
			}
			if !tc.bad && err != nil {
				t.Fatalf("valid config refused: %v", err)
			}
		})
	}
}
