package main

import "testing"

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
