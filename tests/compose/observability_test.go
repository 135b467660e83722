package compose

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"gopkg.in/yaml.v3"
)

// The observability profile runs Prometheus with the alert rules and
// Grafana with the dashboard, provisioned from deploy/, and only when
// asked for.
func TestTheObservabilityProfileProvisionsPrometheusAndGrafana(t *testing.T) {
	t.Parallel()
	plain, err := load(t, secrets)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"prometheus", "grafana"} {
		if _, ok := plain.Services[name]; ok {
			t.Errorf("%s runs without the observability profile", name)
		}
	}
	withPW := map[string]string{"GRAFANA_ADMIN_PASSWORD": "grafana-test-Secret3"}
	for k, v := range secrets {
		withPW[k] = v
	}
	p, err := load(t, withPW, cli.WithProfiles([]string{"observability"}))
	if err != nil {
		t.Fatalf("observability profile does not load: %v", err)
	}
	abs, _ := filepath.Abs(root)
	mounts := map[string]string{} // container path → host path, both services
	for _, name := range []string{"prometheus", "grafana"} {
		s, ok := p.Services[name]
		if !ok {
			t.Fatalf("no %s service in the observability profile", name)
		}
		if s.HealthCheck == nil || len(s.HealthCheck.Test) < 2 {
			t.Errorf("%s has no health check", name)
		}
		for _, port := range s.Ports {
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %s on %q, want 127.0.0.1 only", name, port.Published, port.HostIP)
			}
		}
		for _, v := range s.Volumes {
			if v.Type != "bind" {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s mounts %s, which does not exist: %v", name, v.Source, err)
			}
			if !strings.HasPrefix(v.Source, filepath.Join(abs, "deploy")) {
				t.Errorf("%s mounts %s from outside deploy/", name, v.Source)
			}
			mounts[v.Target] = v.Source
		}
	}
	if got := env(p.Services["grafana"], "GF_SECURITY_ADMIN_PASSWORD"); got != withPW["GRAFANA_ADMIN_PASSWORD"] {
		t.Errorf("grafana admin password is %q, want GRAFANA_ADMIN_PASSWORD", got)
	}
	if !strings.Contains(strings.Join(p.Services["grafana"].Entrypoint, " "), "GF_SECURITY_ADMIN_PASSWORD") {
		t.Errorf("grafana does not refuse to start without a password: %v", p.Services["grafana"].Entrypoint)
	}

	// Prometheus loads the rules from where they are mounted and scrapes
	// the authledger service on the port it listens on.
	var cfg struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	raw, err := os.ReadFile(mounts["/etc/prometheus/prometheus.yml"])
	if err != nil {
		t.Fatalf("prometheus.yml is not mounted at /etc/prometheus/prometheus.yml: %v", err)
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	for _, rf := range cfg.RuleFiles {
		if src, ok := mounts[rf]; !ok || filepath.Base(src) != "alerts.yml" {
			t.Errorf("rule file %s is not deploy/prometheus/alerts.yml mounted (%q)", rf, src)
		}
	}
	listen := env(p.Services["authledger"], "AUTHLEDGER_LISTEN")
	port := listen[strings.LastIndex(listen, ":")+1:]
	if len(cfg.ScrapeConfigs) != 1 || cfg.ScrapeConfigs[0].JobName != "authledger" || len(cfg.ScrapeConfigs[0].StaticConfigs) == 0 ||
		strings.Join(cfg.ScrapeConfigs[0].StaticConfigs[0].Targets, ",") != "authledger:"+port {
		t.Errorf("scrape configs %+v, want job authledger on authledger:%s (the alerts expect that job name)", cfg.ScrapeConfigs, port)
	}

	// Grafana's provisioned data source has the uid the dashboard uses, and
	// its dashboard provider reads the mounted dashboard's folder.
	var ds struct {
		Datasources []struct {
			UID, Type, URL string
		} `yaml:"datasources"`
	}
	raw, err = os.ReadFile(filepath.Join(mounts["/etc/grafana/provisioning"], "datasources", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &ds); err != nil || len(ds.Datasources) != 1 || ds.Datasources[0].UID != "prometheus" ||
		ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("grafana data source %+v (%v), want uid prometheus at http://prometheus:9090", ds, err)
	}
	var dp struct {
		Providers []struct {
			Options struct{ Path string } `yaml:"options"`
		} `yaml:"providers"`
	}
	raw, err = os.ReadFile(filepath.Join(mounts["/etc/grafana/provisioning"], "dashboards", "authledger.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &dp); err != nil || len(dp.Providers) != 1 {
		t.Fatalf("dashboard provider: %v", err)
	}
	if src := mounts[dp.Providers[0].Options.Path+"/dashboard.json"]; filepath.Base(src) != "dashboard.json" {
		t.Errorf("the dashboard provider reads %s, where dashboard.json is not mounted", dp.Providers[0].Options.Path)
	}
}
