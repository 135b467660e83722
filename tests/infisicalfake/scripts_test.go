package infisicalfake_test

import (
	"context"
	"encoding/base64"
	"os/exec"
	"strings"
	"testing"

	"github.com/authledger/authledger/secrets/local"
	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
	"github.com/authledger/authledger/tests/infisicalfake"
)

const (
	project     = "proj-scripts"
	adminID     = "admin-client"
	adminSecret = "admin-client-secret-31c"
)

func fake(t *testing.T) *infisicalfake.Server {
	t.Helper()
	f := infisicalfake.New(map[string][]string{project: {"dev", "staging", "prod"}})
	var privs []infisicalfake.Privilege
	for _, env := range []string{"dev", "staging", "prod"} {
		privs = append(privs, infisicalfake.Privilege{Project: project, Environment: env, Path: "/", Write: true})
	}
	f.AddIdentity(infisicalfake.Identity{ID: "admin", ClientID: adminID, ClientSecret: adminSecret, Privileges: privs})
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	return f
}

func script(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	root, err := e2eharness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", args...)
	cmd.Dir = root
	cmd.Env = append(e2eharness.BaseEnv(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// The set-up script's folder step against the fake, twice (idempotent),
// and the whole script as a dry run. Its identity, privilege and approval
// calls are not implemented by the fake and were not run.
func TestSetupScriptAgainstTheFake(t *testing.T) {
	f := fake(t)
	env := []string{"INFISICAL_URL=" + f.URL(), "INFISICAL_PROJECT_ID=" + project, "INFISICAL_ORG_ID=org",
		"INFISICAL_ADMIN_CLIENT_ID=" + adminID, "INFISICAL_ADMIN_CLIENT_SECRET=" + adminSecret}
	for range 2 {
		out, err := script(t, append(env, "INFISICAL_SETUP_STEPS=folders"), "scripts/infisical_setup.sh")
		if err != nil || !strings.Contains(out, "infisical_setup: done") {
			t.Fatalf("%v: %s", err, out)
		}
	}
	for _, e := range []string{"dev", "staging", "prod"} {
		if !f.HasFolder(project, e, "/authledger") {
			t.Errorf("no /authledger folder in %s", e)
		}
	}
	out, err := script(t, append(env, "INFISICAL_SETUP_OUT="+t.TempDir()), "scripts/infisical_setup.sh", "--dry-run")
	if err != nil || !strings.Contains(out, "DRY-RUN POST") || !strings.Contains(out, "identity-project-additional-privilege") {
		t.Fatalf("dry run: %v: %s", err, out)
	}
	if strings.Contains(out, adminSecret) {
		t.Fatal("the dry run printed the admin secret")
	}
}

func TestSecretMigrationScript(t *testing.T) {
	f := fake(t)
	bin := e2eharness.Binary(t)
	dir := t.TempDir()
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i)
	}
	src, err := local.Open(dir, local.Options{MasterKey: key})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	values := map[string][]string{"signing-key/kid-a": {"seed-a"}, "refresh-sealing-key": {"sealing-1", "sealing-2", "sealing-3"}}
	for name, vs := range values {
		for _, v := range vs {
			if _, err := src.Put(ctx, name, []byte(v)); err != nil {
				t.Fatal(err)
			}
		}
	}
	env := []string{"AUTHLEDGER_BIN=" + bin, "AUTHLEDGER_MASTER_KEY=" + base64.StdEncoding.EncodeToString(key),
		"AUTHLEDGER_SECRETS=infisical://" + strings.TrimPrefix(f.URL(), "http://") + "/" + project + "?env=prod&path=/authledger&insecure_http=1",
		"AUTHLEDGER_INFISICAL_CLIENT_ID=" + adminID, "AUTHLEDGER_INFISICAL_CLIENT_SECRET=" + adminSecret,
		"AUTHLEDGER_DATA_DIR=" + t.TempDir()}

	out, err := script(t, env, "scripts/secret_migration.sh", "--dry-run", dir)
	if err != nil || !strings.Contains(out, "would copy versions 1..3") {
		t.Fatalf("dry run: %v: %s", err, out)
	}
	if _, _, ok := f.Value(project, "prod", "/authledger", "refresh-sealing-key"); ok {
		t.Fatal("the dry run wrote")
	}
	out, err = script(t, env, "scripts/secret_migration.sh", dir)
	if err != nil || !strings.Contains(out, "versions 1..3 copied and read back") || !strings.Contains(out, "already in the target, verified") {
		t.Fatalf("migration: %v: %s", err, out)
	}
	for name, vs := range values {
		folder, k := "/authledger", name
		if i := strings.LastIndex(name, "/"); i >= 0 {
			folder, k = "/authledger/"+name[:i], name[i+1:]
		}
		got, n, ok := f.Value(project, "prod", folder, k)
		if !ok || n != len(vs) || got != base64.StdEncoding.EncodeToString([]byte(vs[len(vs)-1])) {
			t.Errorf("%s: ok %v version %d", name, ok, n)
		}
	}
	for _, vs := range values {
		for _, v := range vs {
			if strings.Contains(out, v) {
				t.Fatalf("the migration printed a value: %s", out)
			}
		}
	}
	// Run again: nothing to copy, everything verified.
	if out, err := script(t, env, "scripts/secret_migration.sh", dir); err != nil || strings.Contains(out, "copied") {
		t.Fatalf("second run: %v: %s", err, out)
	}
}
