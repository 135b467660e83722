package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authledger/authledger/domain/keyring"
	"github.com/authledger/authledger/eventstore"
)

// A checkpoint nobody can vouch for says nothing about the ledger: an
// attacker-signed one over an intact ledger must be refused as a bad
// signature, never turned into "the ledger was rewritten" or "truncated".
func TestAuditVerifyRefusesAForgedCheckpointBeforeComparingIt(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k1 := newLedgerKey(t, "k1")
	attacker := newLedgerKey(t, "k1") // claims the issuer's kid
	stranger := newLedgerKey(t, "k9") // a kid the ledger never published
	path, _ := auditLedger(t, 2)
	head := appendLedger(t, path, k1.published(t0), nil, nil)
	iat := t0.Add(time.Hour)
	bogus := strings.Repeat("e", 64)

	export := filepath.Join(t.TempDir(), "export.jsonl")
	if code, _, errs := runCLI(t, "audit", "export", "--out", export); code != 0 {
		t.Fatalf("export: exit %d: %s", code, errs)
	}
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k1.priv.Public(), KeyID: "k1", Algorithm: "EdDSA", Use: "sig"}}})
	jwksFile := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(jwksFile, jwks, 0o600); err != nil {
		t.Fatal(err)
	}

	forged := []struct {
		name string
		cp   string
	}{
		{"another key under the issuer's kid, over an earlier position with another hash", attacker.checkpoint(t, eventstore.Head{Position: 3, Hash: bogus}, iat)},
		{"another key under the issuer's kid, at the head with another hash", attacker.checkpoint(t, eventstore.Head{Position: head.Position, Hash: bogus}, iat)},
		{"another key under the issuer's kid, beyond the head", attacker.checkpoint(t, eventstore.Head{Position: head.Position + 5, Hash: bogus}, iat)},
		{"a key the ledger never published, with another hash", stranger.checkpoint(t, eventstore.Head{Position: 3, Hash: bogus}, iat)},
	}
	sources := []struct {
		name string
		args []string
	}{
		{"the ledger's keys, the store", nil},
		{"the ledger's keys, an export", []string{"--file", export}},
		{"a pinned JWKS, the store", []string{"--jwks", jwksFile}},
		{"a pinned JWKS, an export", []string{"--file", export, "--jwks", jwksFile}},
	}
	for _, f := range forged {
		for _, src := range sources {
			t.Run(f.name+" / "+src.name, func(t *testing.T) {
				args := append([]string{"audit", "verify", "--checkpoint", f.cp}, src.args...)
				code, out, errs := runCLI(t, args...)
				if code != 1 || !strings.Contains(errs, "checkpoint signature not valid") {
					t.Fatalf("exit %d, stdout %q, stderr %q: want exit 1 and \"checkpoint signature not valid\"", code, out, errs)
				}
				if all := out + errs; strings.HasPrefix(out, "position ") || strings.Contains(all, "rewritten") || strings.Contains(all, "truncated") {
					t.Fatalf("a forged checkpoint produced a tamper verdict: %q %q", out, errs)
				}
				if strings.Contains(out, "ok:") {
					t.Fatalf("reported ok: %q", out)
				}
			})
		}
	}

	// The issuer's own key, stolen and revoked: a checkpoint it signs with
	// an iat at or after the revocation is refused for that reason, even
	// when its hash contradicts the ledger, because the revocation comes
	// later in the ledger than the position it names.
	appendLedger(t, path, keyring.KeyRevoked{KID: "k1", At: iat, Reason: "compromised"})
	stolen := k1.checkpoint(t, eventstore.Head{Position: 3, Hash: bogus}, iat.Add(time.Minute))
	code, out, errs := runCLI(t, "audit", "verify", "--checkpoint", stolen)
	if code != 1 || !strings.Contains(errs, "checkpoint signature not valid") || !strings.Contains(errs, "revoked at or before its iat") || strings.Contains(out+errs, "rewritten") {
		t.Fatalf("a revoked key's checkpoint: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	// A genuine checkpoint still proves a rewrite.
	genuine := k1.checkpoint(t, eventstore.Head{Position: 3, Hash: bogus}, t0.Add(time.Minute))
	code, out, _ = runCLI(t, "audit", "verify", "--checkpoint", genuine)
	if code != 1 || !strings.HasPrefix(out, "position 3: ") || !strings.Contains(out, "rewritten") {
		t.Fatalf("a genuine checkpoint the ledger contradicts: exit %d, %q", code, out)
	}
}
