package ops

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

type ruleFile struct {
	Groups []struct {
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

type ruleTests struct {
	Tests []struct {
		Name  string `yaml:"name"`
		Cases []struct {
			Alert     string           `yaml:"alertname"`
			ExpAlerts []map[string]any `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func root(t *testing.T) string {
	t.Helper()
	r, err := e2eharness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestTheAlertRulesPassPromtoolCheckAndTheirUnitTests(t *testing.T) {
	t.Parallel()
	tool := promtool(t)
	dir := filepath.Join(root(t), "deploy", "prometheus")
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(tool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// Every alert has a unit test where it fires and one where it does not,
// and links a runbook page that exists.
func TestEveryAlertIsTestedBothWaysAndLinksItsRunbook(t *testing.T) {
	t.Parallel()
	r := root(t)
	var rules ruleFile
	readYAML(t, filepath.Join(r, "deploy", "prometheus", "alerts.yml"), &rules)
	var tests ruleTests
	readYAML(t, filepath.Join(r, "deploy", "prometheus", "alerts_test.yml"), &tests)
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, c := range tc.Cases {
			if len(c.ExpAlerts) > 0 {
				fires[c.Alert] = true
			} else {
				silent[c.Alert] = true
			}
		}
	}
	const prefix = "https://github.com/authledger/authledger/blob/main/"
	alerts := 0
	for _, g := range rules.Groups {
		for _, rule := range g.Rules {
			if rule.Alert == "" {
				continue
			}
			alerts++
			if !fires[rule.Alert] {
				t.Errorf("%s: no unit test where it fires", rule.Alert)
			}
			if !silent[rule.Alert] {
				t.Errorf("%s: no unit test where it stays silent", rule.Alert)
			}
			u := rule.Annotations["runbook_url"]
			if !strings.HasPrefix(u, prefix+"docs/runbooks/") {
				t.Errorf("%s: runbook_url %q is not a docs/runbooks page", rule.Alert, u)
				continue
			}
			page, err := os.ReadFile(filepath.Join(r, filepath.FromSlash(strings.TrimPrefix(u, prefix))))
			if err != nil {
				t.Errorf("%s: runbook: %v", rule.Alert, err)
				continue
			}
			if !strings.Contains(string(page), rule.Alert) {
				t.Errorf("%s: its runbook %s does not name it", rule.Alert, u)
			}
		}
	}
	if alerts < 12 {
		t.Errorf("%d alerts, want the 12 of issue 15", alerts)
	}
}
