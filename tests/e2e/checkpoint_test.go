package e2e

import (
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // the "sqlite" driver, to cut the ledger behind the service's back

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// An auditor keeps a checkpoint from the running service; later someone
// cuts events off the end of the ledger. The chain alone still verifies,
// the checkpoint does not.
func TestASignedCheckpointFromTheServiceCatchesATruncatedLedger(t *testing.T) {
	t.Parallel()
	srv := e2eharness.Start(t, bin, e2eharness.Options{})

	client := registerService(t, srv, "--name", "auditor", "--scopes", "audit:read")
	if client.ClientSecret == "" {
		t.Fatalf("registered client %s has no secret", client.ClientID)
	}

	// The server learns of the new client from the ledger feed; the CLI
	// contract gives it a second, so retry briefly instead of racing it.
	var token string
	eventually(t, "access token for the registered client", func() error {
		if token = clientCredentials(t, srv, client.ClientID, client.ClientSecret); token == "" {
			return errString("no access token")
		}
		return nil
	})

	dir := t.TempDir()
	cpFile := filepath.Join(dir, "checkpoint.json")
	jwksFile := filepath.Join(dir, "jwks.json")
	save(t, srv, "/v1/audit/checkpoint", token, cpFile)
	save(t, srv, "/.well-known/jwks.json", "", jwksFile)

	if r := srv.CLI("audit", "verify", "--checkpoint", cpFile, "--jwks", jwksFile); r.Code != 0 || !strings.Contains(r.Stdout, "ok: checkpoint position") {
		t.Fatalf("verify with the fresh checkpoint: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if code, _ := srv.Stop(); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}

	var body struct{ Checkpoint string }
	raw, _ := os.ReadFile(cpFile)
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(body.Checkpoint, ".")
	if len(parts) != 3 {
		t.Fatalf("checkpoint %q is not a compact JWS", body.Checkpoint)
	}
	var claims struct{ Position uint64 }
	if err := json.Unmarshal(mustB64(t, parts[1]), &claims); err != nil || claims.Position < 2 {
		t.Fatalf("checkpoint claims %s: %v", mustB64(t, parts[1]), err)
	}

	db, err := sql.Open("sqlite", filepath.Join(srv.DataDir, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM events WHERE position >= ?`, int64(claims.Position)); err != nil {
		t.Fatal(err)
	}
	db.Close()

	if r := srv.CLI("audit", "verify"); r.Code != 0 {
		t.Fatalf("a truncated chain still links, so plain verify passes; got exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	r := srv.CLI("audit", "verify", "--checkpoint", cpFile, "--jwks", jwksFile)
	if want := fmt.Sprintf("position %d: missing", claims.Position); r.Code != 1 || !strings.HasPrefix(r.Stdout, want) {
		t.Fatalf("verify of the truncated ledger: exit %d %q, want exit 1 and %q", r.Code, r.Stdout, want)
	}
}

func clientCredentials(t *testing.T, srv *e2eharness.Server, id, secret string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.BaseURL+"/oauth2/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {"audit:read"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&tok) != nil {
		return ""
	}
	return tok.AccessToken
}

func save(t *testing.T, srv *e2eharness.Server, path, token, file string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.BaseURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", path, resp.Status, b)
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
