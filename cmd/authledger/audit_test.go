package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/sqlite"
)

// auditLedger makes an SQLite ledger of n events and points the
// configuration at it; the CLI opens it as a separate process would.
func auditLedger(t *testing.T, n int) (path string, head eventstore.Head) {
	t.Helper()
	dir := t.TempDir()
	path = filepath.Join(dir, "ledger.db")
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, envPrefix) {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	t.Setenv("AUTHLEDGER_DATA_DIR", dir)
	t.Setenv("AUTHLEDGER_STORE", "sqlite://"+path)
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range n {
		if _, err := s.Append(ctx, eventstore.StreamAppend{Stream: fmt.Sprintf("session-%d", i%3), Events: []eventstore.Event{{
			Type: "SessionStarted", Data: json.RawMessage(fmt.Sprintf(`{"subject":"sub-%d"}`, i)),
		}}}); err != nil {
			t.Fatal(err)
		}
	}
	if head, err = s.Head(ctx); err != nil {
		t.Fatal(err)
	}
	return path, head
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestAuditVerifyPrintsTheHeadOfAValidLedger(t *testing.T) {
	_, head := auditLedger(t, 7)
	code, out, errs := runCLI(t, "audit", "verify")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	if want := fmt.Sprintf("ok: head position 7 hash %s\n", head.Hash); out != want {
		t.Fatalf("got %q, want %q", out, want)
	}
}

func TestAuditExportThenVerifyTheFile(t *testing.T) {
	_, head := auditLedger(t, 5)
	code, out, errs := runCLI(t, "audit", "export")
	if code != 0 || strings.Count(out, "\n") != 5 {
		t.Fatalf("exit %d, %d lines: %s", code, strings.Count(out, "\n"), errs)
	}
	file := filepath.Join(t.TempDir(), "export.jsonl")
	if code, _, errs := runCLI(t, "audit", "export", "--out", file); code != 0 {
		t.Fatalf("export --out: exit %d: %s", code, errs)
	}
	b, err := os.ReadFile(file)
	if err != nil || string(b) != out {
		t.Fatalf("--out wrote something else than stdout (%v)", err)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Fatalf("export mode %v, want 0600", fi.Mode().Perm())
	}
	code, vout, errs := runCLI(t, "audit", "verify", "--file", file)
	if code != 0 || !strings.Contains(vout, head.Hash) {
		t.Fatalf("exit %d: %s%s", code, vout, errs)
	}

	stdin = strings.NewReader(out)
	t.Cleanup(func() { stdin = os.Stdin })
	if code, vout, errs := runCLI(t, "audit", "verify", "--file", "-"); code != 0 || !strings.Contains(vout, head.Hash) {
		t.Fatalf("verify --file -: exit %d: %s%s", code, vout, errs)
	}

	tampered := strings.Replace(out, `"sub-2"`, `"sub-X"`, 1)
	if err := os.WriteFile(file, []byte(tampered), 0o600); err != nil {
		t.Fatal(err)
	}
	code, vout, _ = runCLI(t, "audit", "verify", "--file", file)
	if code != 1 || !strings.HasPrefix(vout, "position 3: hash mismatch") {
		t.Fatalf("exit %d, %q", code, vout)
	}
}

func TestAuditVerifyNamesATamperedRow(t *testing.T) {
	path, _ := auditLedger(t, 6)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM events WHERE position = 4`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, out, errs := runCLI(t, "audit", "verify")
	if code != 1 {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	if !strings.HasPrefix(out, "position 4: ") || strings.Count(out, "\n") != 1 {
		t.Fatalf("want one line naming position 4, got %q", out)
	}
}

func TestAuditVerifyRefusesAMissingLedger(t *testing.T) {
	path, _ := auditLedger(t, 1)
	missing := filepath.Join(filepath.Dir(path), "nope.db")
	t.Setenv("AUTHLEDGER_STORE", "sqlite://"+missing)
	code, _, errs := runCLI(t, "audit", "verify")
	if code != 1 || !strings.Contains(errs, "no ledger at") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("verify created %s", missing)
	}
}

func TestAuditVerifyWithASignedCheckpoint(t *testing.T) {
	_, head := auditLedger(t, 4)
	dir := t.TempDir()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: priv.Public(), KeyID: "k1", Algorithm: "EdDSA", Use: "sig"}}})
	jwksFile := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwksFile, jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	sign := func(pos uint64, hash string) string {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: priv, KeyID: "k1"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		payload, _ := json.Marshal(map[string]any{"position": pos, "hash": hash, "iat": 1767225600})
		jws, err := signer.Sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := jws.CompactSerialize()
		f := filepath.Join(dir, fmt.Sprintf("cp-%d-%s.json", pos, hash[:8]))
		body, _ := json.Marshal(map[string]string{"checkpoint": s})
		if err := os.WriteFile(f, body, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}

	code, out, errs := runCLI(t, "audit", "verify", "--checkpoint", sign(4, head.Hash), "--jwks", jwksFile)
	if code != 0 || !strings.Contains(out, "ok: checkpoint position 4") {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	code, out, _ = runCLI(t, "audit", "verify", "--checkpoint", sign(4, strings.Repeat("e", 64)), "--jwks", jwksFile)
	if code != 1 || !strings.HasPrefix(out, "position 4: ") {
		t.Fatalf("a rewritten ledger: exit %d, %q", code, out)
	}
	code, out, _ = runCLI(t, "audit", "verify", "--checkpoint", sign(9, head.Hash), "--jwks", jwksFile)
	if code != 1 || !strings.HasPrefix(out, "position 5: missing") {
		t.Fatalf("a truncated ledger: exit %d, %q", code, out)
	}
	if code, _, errs := runCLI(t, "audit", "verify", "--checkpoint", sign(4, head.Hash)); code != 1 || !strings.Contains(errs, "never published in the ledger") {
		t.Fatalf("--checkpoint without --jwks, signed by a key the ledger never published: exit %d, %s", code, errs)
	}
	otherPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: otherPub, KeyID: "k1"}}})
	if err := os.WriteFile(jwksFile, other, 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runCLI(t, "audit", "verify", "--checkpoint", sign(4, head.Hash), "--jwks", jwksFile)
	if code != 1 || !strings.Contains(errs, "checkpoint not verifiable") {
		t.Fatalf("a checkpoint signed by another key: exit %d, %s", code, errs)
	}
}

func TestAuditUsageErrorsExitTwo(t *testing.T) {
	auditLedger(t, 0)
	for _, args := range [][]string{{"audit"}, {"audit", "frobnicate"}, {"audit", "verify", "extra"}, {"audit", "export", "--nope"}} {
		if code, _, _ := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
