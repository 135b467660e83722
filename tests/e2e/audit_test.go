package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	e2eharness "github.com/authledger/authledger/tests/e2e/harness"
)

// getJSON is one authenticated GET; it returns the status and the body.
func getJSON(t *testing.T, srv *e2eharness.Server, path, token string, into any) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.BaseURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if into != nil {
		_ = json.Unmarshal(b, into)
	}
	return resp.StatusCode, string(b)
}

func m2mToken(t *testing.T, srv *e2eharness.Server, cl registered, scope string) string {
	t.Helper()
	var tok string
	eventually(t, "token for "+cl.ClientID, func() error {
		code, body := postForm(t, srv.BaseURL, "/oauth2/token", cl, url.Values{"grant_type": {"client_credentials"}, "scope": {scope}})
		if code != http.StatusOK {
			return errString(fmt.Sprintf("%d %v", code, body))
		}
		tok, _ = body["access_token"].(string)
		return nil
	})
	return tok
}

type auditPage struct {
	Entries []struct {
		Position uint64 `json:"position"`
		Hash     string `json:"hash"`
		Type     string `json:"type"`
		Subject  string `json:"subject"`
		Summary  string `json:"summary"`
	} `json:"entries"`
}

// The audit read model, the dashboard API, the periodic checkpoints and
// the partial exports, on the real binary.
func TestAuditTrailCheckpointsAndExportsOnTheBinary(t *testing.T) {
	t.Parallel()
	srv := e2eharness.Start(t, bin, e2eharness.Options{Env: map[string]string{"AUTHLEDGER_CHECKPOINT_EVERY": "1s"}})
	auditor := registerService(t, srv, "--name", "auditor", "--scopes", "audit:read")
	login := registerService(t, srv, "--name", "login", "--scopes", "sessions:create")
	auditTok := m2mToken(t, srv, auditor, "audit:read")
	loginTok := m2mToken(t, srv, login, "sessions:create")

	req, _ := http.NewRequest(http.MethodPost, srv.BaseURL+"/v1/sessions", strings.NewReader(`{"subject":"alice","amr":["webauthn"],"acr":"aal2"}`))
	req.Header.Set("Authorization", "Bearer "+loginTok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var started struct {
		SessionID   string `json:"session_id"`
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&started)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /v1/sessions: %s", resp.Status)
	}

	var trail auditPage
	eventually(t, "alice's trail in audit.v1", func() error {
		if code, body := getJSON(t, srv, "/v1/audit/events?subject=alice", auditTok, &trail); code != http.StatusOK || len(trail.Entries) < 3 {
			return errString(fmt.Sprintf("%d %s", code, body))
		}
		return nil
	})
	if trail.Entries[0].Type != "session.started.v1" || !strings.HasPrefix(trail.Entries[0].Summary, "session started") {
		t.Fatalf("first entry %+v", trail.Entries[0])
	}
	if code, body := getJSON(t, srv, "/v1/audit/events", loginTok, nil); code != http.StatusForbidden {
		t.Fatalf("without audit:read: %d %s", code, body)
	}
	var mine auditPage
	if code, body := getJSON(t, srv, "/v1/me/audit", started.AccessToken, &mine); code != http.StatusOK || len(mine.Entries) == 0 {
		t.Fatalf("/v1/me/audit: %d %s", code, body)
	}
	for _, e := range mine.Entries {
		if e.Subject != "alice" {
			t.Fatalf("alice sees %+v", e)
		}
	}
	if code, _ := getJSON(t, srv, "/v1/me/audit", auditTok, nil); code != http.StatusUnauthorized {
		t.Fatalf("/v1/me/audit with an M2M token: %d", code)
	}
	if code, body := getJSON(t, srv, "/v1/me/sessions", started.AccessToken, nil); code != http.StatusOK || !strings.Contains(body, started.SessionID) {
		t.Fatalf("/v1/me/sessions: %d %s", code, body)
	}

	// A periodic checkpoint appears and proves the ledger's prefix.
	var cps struct {
		Checkpoints []struct {
			Position   uint64 `json:"position"`
			Checkpoint string `json:"checkpoint"`
		} `json:"checkpoints"`
	}
	eventually(t, "a periodic checkpoint", func() error {
		if code, body := getJSON(t, srv, "/v1/audit/checkpoints?after=0", auditTok, &cps); code != http.StatusOK || len(cps.Checkpoints) == 0 {
			return errString(fmt.Sprintf("%d %s", code, body))
		}
		return nil
	})
	dir := t.TempDir()
	cpFile := filepath.Join(dir, "cp.json")
	b, _ := json.Marshal(map[string]string{"checkpoint": cps.Checkpoints[0].Checkpoint})
	if err := os.WriteFile(cpFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := srv.CLI("audit", "verify", "--checkpoint", cpFile); r.Code != 0 || !strings.Contains(r.Stdout, "is a prefix of the ledger") {
		t.Fatalf("verify --checkpoint: %d %s %s", r.Code, r.Stdout, r.Stderr)
	}
	r := srv.CLI("audit", "checkpoint")
	var fresh struct {
		Checkpoint string `json:"checkpoint"`
		Position   uint64 `json:"position"`
	}
	if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &fresh) != nil || fresh.Checkpoint == "" {
		t.Fatalf("audit checkpoint: %d %s %s", r.Code, r.Stdout, r.Stderr)
	}

	// projections status lists audit.v1; a rebuild while serving keeps it.
	if r := srv.CLI("projections", "status", "--json"); r.Code != 0 || !strings.Contains(r.Stdout, `"audit.v1"`) {
		t.Fatalf("status: %d %s %s", r.Code, r.Stdout, r.Stderr)
	}
	if r := srv.CLI("projections", "rebuild", "audit.v1"); r.Code != 0 {
		t.Fatalf("rebuild: %d %s %s", r.Code, r.Stdout, r.Stderr)
	}
	var again auditPage
	eventually(t, "alice's trail after the rebuild", func() error {
		if code, body := getJSON(t, srv, "/v1/audit/events?subject=alice", auditTok, &again); code != http.StatusOK || len(again.Entries) < len(trail.Entries) {
			return errString(fmt.Sprintf("%d %s", code, body))
		}
		return nil
	})
	if again.Entries[0].Hash != trail.Entries[0].Hash {
		t.Fatalf("rebuilt entry %+v, was %+v", again.Entries[0], trail.Entries[0])
	}

	// A segment and a subject export verify on their own.
	seg := filepath.Join(dir, "seg.jsonl")
	if r := srv.CLI("audit", "export", "--from", "2", "--to", fmt.Sprint(fresh.Position), "--out", seg); r.Code != 0 {
		t.Fatalf("export segment: %d %s", r.Code, r.Stderr)
	}
	if r := srv.CLI("audit", "verify", "--file", seg); r.Code != 0 || !strings.Contains(r.Stdout, "ok: segment positions 2..") {
		t.Fatalf("verify segment: %d %s %s", r.Code, r.Stdout, r.Stderr)
	}
	// The segment does not hold the key_published event, so the issuer's
	// keys come from the JWKS the auditor kept.
	jwksFile := filepath.Join(dir, "jwks.json")
	save(t, srv, "/.well-known/jwks.json", "", jwksFile)
	if r := srv.CLI("audit", "verify", "--file", seg, "--checkpoint", cpFile, "--jwks", jwksFile); cps.Checkpoints[0].Position >= 2 &&
		(r.Code != 0 || !strings.Contains(r.Stdout, "is a prefix of the ledger")) {
		t.Fatalf("verify segment with a checkpoint inside it: %d %s %s", r.Code, r.Stdout, r.Stderr)
	}
	raw, _ := os.ReadFile(seg)
	bad := bytes.Replace(raw, []byte(`"alice"`), []byte(`"alicf"`), 1)
	badFile := filepath.Join(dir, "bad.jsonl")
	_ = os.WriteFile(badFile, bad, 0o600)
	if r := srv.CLI("audit", "verify", "--file", badFile); r.Code != 1 || !strings.HasPrefix(r.Stdout, "position ") {
		t.Fatalf("verify an altered segment: %d %s %s", r.Code, r.Stdout, r.Stderr)
	}
	subj := filepath.Join(dir, "alice.jsonl")
	if r := srv.CLI("audit", "export", "--subject", "alice", "--out", subj); r.Code != 0 {
		t.Fatalf("export subject: %d %s", r.Code, r.Stderr)
	}
	if r := srv.CLI("audit", "verify", "--file", subj); r.Code != 0 || !strings.Contains(r.Stdout, "envelopes each match their hash") {
		t.Fatalf("verify subject export: %d %s %s", r.Code, r.Stdout, r.Stderr)
	}
}
