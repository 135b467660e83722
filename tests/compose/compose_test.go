package compose

import (
	"bufio"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

const root = "../.."

// secrets are the variables the operator must provide; the values are
// made up here and must reach the services unchanged.
var secrets = map[string]string{
	"POSTGRES_PASSWORD":     "pg-test-Secret1",
	"REDIS_PASSWORD":        "redis-test-Secret2",
	"AUTHLEDGER_MASTER_KEY": "dGVzdC1tYXN0ZXIta2V5LXRlc3QtbWFzdGVyLWtleSE=",
}

func load(t *testing.T, env map[string]string, opts ...cli.ProjectOptionsFn) (*types.Project, error) {
	t.Helper()
	var kv []string
	for k, v := range env {
		kv = append(kv, k+"="+v)
	}
	// Only the given environment: the machine's variables must not make a
	// broken file pass.
	o, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		append([]cli.ProjectOptionsFn{cli.WithWorkingDirectory(root), cli.WithEnv(kv)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return o.LoadProject(context.Background())
}

func env(s types.ServiceConfig, name string) string {
	if v := s.Environment[name]; v != nil {
		return *v
	}
	return ""
}

func TestComposeRunsTheProductionProfile(t *testing.T) {
	t.Parallel()
	p, err := load(t, secrets)
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	if p.Name != "authledger" {
		t.Errorf("project name %q", p.Name)
	}
	for _, name := range []string{"authledger", "postgres", "redis"} {
		s, ok := p.Services[name]
		if !ok {
			t.Fatalf("no %s service", name)
		}
		if s.HealthCheck == nil || len(s.HealthCheck.Test) < 2 || s.HealthCheck.Disable {
			t.Errorf("%s has no health check", name)
		}
	}

	app := p.Services["authledger"]
	if app.Build == nil || app.Build.Dockerfile != "Dockerfile" {
		t.Fatalf("authledger is not built from the Dockerfile: %+v", app.Build)
	}
	if abs, _ := filepath.Abs(root); filepath.Clean(app.Build.Context) != abs {
		t.Errorf("build context %q, want the repository root %q", app.Build.Context, abs)
	}
	for dep, cond := range map[string]string{"postgres": "service_healthy", "redis": "service_healthy"} {
		if d, ok := app.DependsOn[dep]; !ok || d.Condition != cond {
			t.Errorf("authledger should wait for %s to be healthy, got %+v", dep, d)
		}
	}
	if !strings.Contains(strings.Join(app.HealthCheck.Test, " "), "/readyz") {
		t.Errorf("authledger's health check %v should ask /readyz", app.HealthCheck.Test)
	}

	store, err := url.Parse(env(app, "AUTHLEDGER_STORE"))
	if err != nil || store.Scheme != "postgres" || store.Hostname() != "postgres" || store.Port() != "5432" {
		t.Errorf("AUTHLEDGER_STORE %q is not the postgres service", store.Redacted())
	} else if pw, _ := store.User.Password(); pw != secrets["POSTGRES_PASSWORD"] || store.User.Username() != env(p.Services["postgres"], "POSTGRES_USER") || strings.TrimPrefix(store.Path, "/") != env(p.Services["postgres"], "POSTGRES_DB") {
		t.Errorf("AUTHLEDGER_STORE %q does not match the postgres service's user, password and database", store.Redacted())
	}
	redis, err := url.Parse(env(app, "AUTHLEDGER_REDIS_URL"))
	if err != nil || redis.Scheme != "redis" || redis.Hostname() != "redis" {
		t.Errorf("AUTHLEDGER_REDIS_URL is not the redis service")
	} else if pw, _ := redis.User.Password(); pw != secrets["REDIS_PASSWORD"] {
		t.Errorf("AUTHLEDGER_REDIS_URL does not carry REDIS_PASSWORD")
	}
	if got := env(app, "AUTHLEDGER_MASTER_KEY"); got != secrets["AUTHLEDGER_MASTER_KEY"] {
		t.Errorf("AUTHLEDGER_MASTER_KEY is %q, want the provided value", got)
	}
	if got := env(app, "AUTHLEDGER_LISTEN"); !strings.HasPrefix(got, "0.0.0.0:") {
		t.Errorf("AUTHLEDGER_LISTEN %q is not reachable from outside the container", got)
	}
	if env(app, "AUTHLEDGER_ISSUER") == "" || env(app, "AUTHLEDGER_SECRETS") == "" {
		t.Errorf("AUTHLEDGER_ISSUER and AUTHLEDGER_SECRETS need defaults")
	}
	if got := env(p.Services["redis"], "REDIS_PASSWORD"); got != secrets["REDIS_PASSWORD"] {
		t.Errorf("redis does not get REDIS_PASSWORD")
	}
	if !strings.Contains(strings.Join(p.Services["redis"].Command, " "), "--requirepass") {
		t.Errorf("redis runs without a password: %v", p.Services["redis"].Command)
	}
}

func TestComposeRefusesToStartWithoutItsSecrets(t *testing.T) {
	t.Parallel()
	for name := range secrets {
		t.Run("without "+name, func(t *testing.T) {
			t.Parallel()
			partial := map[string]string{}
			for k, v := range secrets {
				if k != name {
					partial[k] = v
				}
			}
			_, err := load(t, partial)
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("loading without %s: %v, want an error naming it", name, err)
			}
		})
	}
}

// Every secret-looking value in the file is an interpolated variable,
// never a literal.
func TestComposeHardCodesNoSecret(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	secretish := regexp.MustCompile(`(?i)^\s*-?\s*"?[A-Z_]*(PASSWORD|SECRET|MASTER_KEY|TOKEN)[A-Z_]*"?\s*[:=]\s*(.*)$`)
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if m := secretish.FindStringSubmatch(line); m != nil && !strings.HasPrefix(strings.TrimSpace(m[2]), "${") {
			t.Errorf("docker-compose.yml:%d sets a secret literally: %s", n, line)
		}
		for _, u := range []string{"postgres://", "redis://"} {
			if i := strings.Index(line, u); i >= 0 && strings.Contains(line[i:], "@") {
				creds := line[i+len(u) : i+strings.Index(line[i:], "@")]
				if _, pw, ok := strings.Cut(creds, ":"); ok && !strings.HasPrefix(pw, "${") {
					t.Errorf("docker-compose.yml:%d has a literal password in a URL", n)
				}
			}
		}
	}
}

func TestTheDockerfileBuildsAStaticBinaryForANonRootUser(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var froms []string
	var finalUser, entry string
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			froms = append(froms, f[1])
			finalUser = ""
		case "USER":
			finalUser = f[1]
		case "ENTRYPOINT":
			entry = strings.Join(f[1:], " ")
		case "ENV", "ARG":
			if regexp.MustCompile(`(?i)PASSWORD|SECRET|MASTER_KEY`).MatchString(sc.Text()) {
				t.Errorf("the Dockerfile bakes a secret into the image: %s", sc.Text())
			}
		}
	}
	if len(froms) < 2 || !strings.HasPrefix(froms[0], "golang:1.26") {
		t.Fatalf("want a multi-stage build from golang:1.26, got %v", froms)
	}
	if u, _, _ := strings.Cut(finalUser, ":"); u == "" || u == "root" || u == "0" {
		t.Errorf("the final image runs as %q, want a non-root user", finalUser)
	}
	if !strings.Contains(string(raw), "./cmd/authledger") || !strings.Contains(string(raw), "CGO_ENABLED=0") {
		t.Errorf("the Dockerfile should build ./cmd/authledger statically")
	}
	if !strings.Contains(entry, "authledger") {
		t.Errorf("ENTRYPOINT %q does not run authledger", entry)
	}
	if _, err := os.Stat(filepath.Join(root, ".dockerignore")); err != nil {
		t.Errorf("no .dockerignore: local ledgers and secrets in data/ would enter the build context")
	}
}

// The kurrentdb profile with its override file puts the ledger in KurrentDB
// and keeps the read models in PostgreSQL; without the profile, KurrentDB
// does not start.
func TestComposeKurrentDBProfile(t *testing.T) {
	t.Parallel()
	base, err := load(t, secrets)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := base.Services["kurrentdb"]; ok {
		t.Fatal("kurrentdb starts without its profile")
	}
	var kv []string
	for k, v := range secrets {
		kv = append(kv, k+"="+v)
	}
	o, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml"), filepath.Join(root, "docker-compose.kurrentdb.yml")},
		cli.WithWorkingDirectory(root), cli.WithEnv(kv), cli.WithProfiles([]string{"kurrentdb"}))
	if err != nil {
		t.Fatal(err)
	}
	p, err := o.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("the kurrentdb override does not load: %v", err)
	}
	k, ok := p.Services["kurrentdb"]
	if !ok || k.HealthCheck == nil {
		t.Fatalf("no healthy kurrentdb service under the profile")
	}
	app := p.Services["authledger"]
	store, err := url.Parse(env(app, "AUTHLEDGER_STORE"))
	if err != nil || store.Scheme != "esdb" || store.Hostname() != "kurrentdb" || store.Port() != "2113" {
		t.Fatalf("AUTHLEDGER_STORE %q is not the kurrentdb service", env(app, "AUTHLEDGER_STORE"))
	}
	if rm, _ := url.Parse(env(app, "AUTHLEDGER_READMODELS")); rm == nil || rm.Scheme != "postgres" || rm.Hostname() != "postgres" {
		t.Fatalf("AUTHLEDGER_READMODELS %q should stay in the postgres service", env(app, "AUTHLEDGER_READMODELS"))
	}
	if d, ok := app.DependsOn["kurrentdb"]; !ok || d.Condition != "service_healthy" {
		t.Fatalf("authledger does not wait for kurrentdb: %+v", app.DependsOn)
	}
}
