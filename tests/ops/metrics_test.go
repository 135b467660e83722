package ops

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// exercise drives the paths whose series the plan names: a registered
// service gets an M2M token, fails once with a wrong secret, reads the
// signed checkpoint with its token and presents a forged bearer token.
func exercise(t *testing.T, srv *e2eharness.Server) {
	t.Helper()
	res := srv.CLI("services", "register", "--name", "ops", "--scopes", "audit:read")
	if res.Code != 0 {
		t.Fatalf("services register: exit %d: %s", res.Code, res.Stderr)
	}
	var c struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &c); err != nil {
		t.Fatal(err)
	}
	var token string
	deadline := time.Now().Add(20 * time.Second)
	for token == "" && time.Now().Before(deadline) {
		code, body := tokenRequest(t, srv, c.ClientID, c.ClientSecret)
		if code == http.StatusOK {
			var tok struct {
				AccessToken string `json:"access_token"`
			}
			_ = json.Unmarshal(body, &tok)
			token = tok.AccessToken
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if token == "" {
		t.Fatal("no M2M token for the registered client")
	}
	if code, _ := tokenRequest(t, srv, c.ClientID, "wrong-"+c.ClientSecret); code != http.StatusUnauthorized {
		t.Fatalf("wrong secret answered %d, want 401", code)
	}
	for _, bearer := range []string{token, "eyJhbGciOiJFZERTQSJ9.e30.forged"} {
		req, _ := http.NewRequest(http.MethodGet, srv.BaseURL+"/v1/audit/checkpoint", nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := srv.Get("/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func tokenRequest(t *testing.T, srv *e2eharness.Server, id, secret string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.BaseURL+"/oauth2/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {"audit:read"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func scrape(t *testing.T, srv *e2eharness.Server) []byte {
	t.Helper()
	resp, err := srv.Get("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %v", resp.StatusCode, err)
	}
	return b
}

func parse(t *testing.T, b []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("parse scrape: %v", err)
	}
	return fams
}

// value sums the samples of name whose labels include want.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	sum, found := 0.0, false
next:
	for _, m := range f.GetMetric() {
		for k, v := range want {
			matched := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					matched = true
				}
			}
			if !matched {
				continue next
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum, found
}

func TestALiveScrapePassesPromtoolAndHoldsThePlansSeries(t *testing.T) {
	t.Parallel()
	tool := promtool(t)
	srv := e2eharness.Start(t, bin, e2eharness.Options{})
	exercise(t, srv)
	// The projection runner publishes lag on its heartbeat; wait for it
	// rather than for a fixed time.
	body := scrape(t, srv)
	for deadline := time.Now().Add(30 * time.Second); !bytes.Contains(body, []byte("authledger_projection_lag_seconds{")) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		body = scrape(t, srv)
	}

	cmd := exec.Command(tool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}

	fams := parse(t, body)
	for name := range fams {
		if !strings.HasPrefix(name, "authledger_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") && !strings.HasPrefix(name, "promhttp_") {
			t.Errorf("series %s lacks the authledger_ prefix", name)
		}
	}
	atLeast := []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"authledger_build_info", nil, 1},
		{"authledger_tokens_issued_total", map[string]string{"class": "m2m"}, 1},
		{"authledger_client_authentications_total", map[string]string{"result": "invalid_client"}, 1},
		{"authledger_client_authentications_total", map[string]string{"result": "ok"}, 1},
		{"authledger_jwt_verification_duration_seconds", map[string]string{"result": "ok"}, 1},
		{"authledger_jwt_verification_duration_seconds", map[string]string{"result": "error"}, 1},
		{"authledger_audit_checkpoints_signed_total", nil, 1},
		{"authledger_audit_checkpoint_last_timestamp_seconds", nil, float64(time.Now().Add(-time.Hour).Unix())},
		{"authledger_ledger_head_position", nil, 3},
		{"authledger_ledger_append_duration_seconds", nil, 1},
		{"authledger_ledger_group_commit_appends", nil, 1},
		{"authledger_key_rotation_events_total", map[string]string{"event": "activated"}, 1},
		{"authledger_signing_keys", map[string]string{"state": "active"}, 1},
		{"authledger_signing_key_next_due_timestamp_seconds", nil, float64(time.Now().Unix())},
		{"authledger_jwks_cache_hits_total", nil, 1},
		{"authledger_jwks_cache_hit_ratio", nil, 1},
		{"authledger_secret_provider_up", nil, 1},
		{"authledger_http_requests_total", map[string]string{"route": "/oauth2/token"}, 2},
	}
	for _, c := range atLeast {
		v, ok := value(fams, c.name, c.labels)
		if !ok || v < c.min {
			t.Errorf("%s%v = %v (present %v), want ≥ %v", c.name, c.labels, v, ok, c.min)
		}
	}
	// Present even while zero, so alerts and panels have a series to read.
	for _, name := range []string{"authledger_token_refreshes_total", "authledger_refresh_token_reuse_detections_total",
		"authledger_active_sessions", "authledger_rate_limit_refusals_total", "authledger_secret_provider_errors_total",
		"authledger_key_rotation_failures_total", "authledger_projection_lag_seconds", "authledger_ledger_append_errors_total",
		"authledger_sessions_started_total", "authledger_jwks_cache_misses_total"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("series %s is missing from the scrape", name)
		}
	}
	// Bounded labels: no client id, subject or jti in any label value.
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.HasPrefix(l.GetValue(), "svc-") {
					t.Errorf("%s has a client id in label %s=%q", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
}
