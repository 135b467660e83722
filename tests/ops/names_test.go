package ops

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/authledger/authledger/internal/pgtest"
	"github.com/authledger/authledger/internal/redistest"
	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// seriesName finds metric names in a PromQL expression: authledger_… and
// recording rules authledger:….
var seriesName = regexp.MustCompile(`\bauthledger[_:][a-zA-Z0-9_:]+`)

type dashboard struct {
	UID    string `json:"uid"`
	Title  string `json:"title"`
	Panels []struct {
		Type    string `json:"type"`
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// Every expression of the dashboard and of the alert rules names a series
// that a production-profile server (PostgreSQL, Redis) exports, or a
// recording rule of alerts.yml: a renamed metric breaks this test, not a
// panel nobody looks at until the incident.
func TestTheDashboardAndAlertsNameOnlyExportedSeries(t *testing.T) {
	t.Parallel()
	r := root(t)
	redis := redistest.Start(t)
	srv := e2eharness.Start(t, bin, e2eharness.Options{Env: map[string]string{
		"AUTHLEDGER_STORE": pgtest.NewDatabase(t), "AUTHLEDGER_REDIS_URL": redis.URL(0),
	}})
	exercise(t, srv)
	body := scrape(t, srv)
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(string(body), "authledger_projection_lag_seconds{") && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		body = scrape(t, srv)
	}
	exported := map[string]bool{}
	for name, f := range parse(t, body) {
		exported[name] = true
		if f.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				exported[name+s] = true
			}
		}
	}
	var rules ruleFile
	readYAML(t, filepath.Join(r, "deploy", "prometheus", "alerts.yml"), &rules)
	for _, g := range rules.Groups {
		for _, rule := range g.Rules {
			if rule.Record != "" {
				exported[rule.Record] = true
			}
		}
	}

	raw, err := os.ReadFile(filepath.Join(r, "deploy", "grafana", "dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard has no uid or title: %q %q", d.UID, d.Title)
	}
	panelled := map[string]bool{}
	check := func(where, expr string) {
		names := seriesName.FindAllString(expr, -1)
		if len(names) == 0 {
			t.Errorf("%s: expression names no authledger series: %s", where, expr)
		}
		for _, n := range names {
			panelled[n] = true
			if !exported[n] {
				t.Errorf("%s: %s is not exported by the service", where, n)
			}
		}
	}
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			check("panel "+p.Title, tg.Expr)
		}
	}
	for _, g := range rules.Groups {
		for _, rule := range g.Rules {
			check("rule "+rule.Alert+rule.Record, rule.Expr)
		}
	}
	// A panel per metric: every authledger series the service exports is on
	// the dashboard.
	for name := range parse(t, body) {
		if strings.HasPrefix(name, "authledger_") && !panelled[name] && !panelled[name+"_bucket"] && !panelled[name+"_count"] &&
			!strings.HasPrefix(name, "authledger_projection_checkpoint") && !strings.HasPrefix(name, "authledger_projection_owned") &&
			!strings.HasPrefix(name, "authledger_projection_ledger_head") && !strings.HasPrefix(name, "authledger_projection_rebuild") &&
			name != "authledger_audit_checkpoints_signed_total" {
			t.Errorf("series %s has no panel on the dashboard", name)
		}
	}
}
