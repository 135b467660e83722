package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authledger/authledger/domain/keyring"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/sqlite"
)

// ledgerKey is a signing key whose public half the test ledger publishes.
type ledgerKey struct {
	kid  string
	priv ed25519.PrivateKey
}

func newLedgerKey(t *testing.T, kid string) ledgerKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return ledgerKey{kid: kid, priv: priv}
}

func (k ledgerKey) published(at time.Time) keyring.Event {
	return keyring.KeyPublished{KID: k.kid, At: at, ActivateAt: at, JWK: keyring.PublicJWK{
		Kty: "OKP", Crv: "Ed25519", Kid: k.kid, Use: "sig", Alg: "EdDSA",
		X: base64.RawURLEncoding.EncodeToString(k.priv.Public().(ed25519.PublicKey)),
	}}
}

// checkpoint signs {position, hash, iat} like commands.JWTSigner does and
// writes it to a file.
func (k ledgerKey) checkpoint(t *testing.T, head eventstore.Head, iat time.Time) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]any{"position": head.Position, "hash": head.Hash, "iat": iat.Unix()})
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := jws.CompactSerialize()
	f := filepath.Join(t.TempDir(), "checkpoint.jws")
	if err := os.WriteFile(f, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// appendLedger appends keyring events (or filler events for nil) to the
// SQLite ledger at path and returns the head after them.
func appendLedger(t *testing.T, path string, events ...keyring.Event) eventstore.Head {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, e := range events {
		app := eventstore.StreamAppend{Stream: fmt.Sprintf("filler-%d", i), Events: []eventstore.Event{{Type: "Filler", Data: json.RawMessage(`{}`)}}}
		if e != nil {
			data, _ := json.Marshal(e)
			app = eventstore.StreamAppend{Stream: keyring.Stream, Expected: eventstore.Any(), Events: []eventstore.Event{{Type: e.EventType(), Data: data}}}
		}
		if _, err := s.Append(ctx, app); err != nil {
			t.Fatal(err)
		}
	}
	head, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return head
}

func TestAuditVerifyTakesTheCheckpointKeyFromTheLedger(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k1, k2 := newLedgerKey(t, "k1"), newLedgerKey(t, "k2")

	path, _ := auditLedger(t, 2)
	cpHead := appendLedger(t, path, k1.published(t0), nil)
	cp := k1.checkpoint(t, cpHead, t0.Add(time.Hour))

	code, out, errs := runCLI(t, "audit", "verify", "--checkpoint", cp)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("ok: checkpoint position %d", cpHead.Position)) || !strings.Contains(out, "published in the ledger") {
		t.Fatalf("a checkpoint signed by a key in the ledger: exit %d: %s%s", code, out, errs)
	}

	// k1 rotates out of the JWKS: k2 is published, k1 retires and drops.
	appendLedger(t, path, k2.published(t0.Add(24*time.Hour)),
		keyring.KeyActivated{KID: "k2", At: t0.Add(25 * time.Hour)},
		keyring.KeyRetired{KID: "k1", At: t0.Add(25 * time.Hour), DropAt: t0.Add(48 * time.Hour)},
		keyring.KeyDropped{KID: "k1", At: t0.Add(48 * time.Hour)}, nil)
	code, out, errs = runCLI(t, "audit", "verify", "--checkpoint", cp)
	if code != 0 || !strings.Contains(out, "ok: checkpoint position") || strings.Contains(out, "warning") {
		t.Fatalf("after k1 rotated out of the JWKS: exit %d: %s%s", code, out, errs)
	}
	// The JWKS of today no longer holds k1: only the ledger's keys do.
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k2.priv.Public(), KeyID: "k2"}}})
	jwksFile := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(jwksFile, jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI(t, "audit", "verify", "--checkpoint", cp, "--jwks", jwksFile); code != 1 || !strings.Contains(errs, "checkpoint not verifiable") {
		t.Fatalf("--jwks overrides the ledger's keys: exit %d, %s", code, errs)
	}

	// The same from an export.
	export := filepath.Join(t.TempDir(), "export.jsonl")
	if code, _, errs := runCLI(t, "audit", "export", "--out", export); code != 0 {
		t.Fatalf("export: exit %d: %s", code, errs)
	}
	code, out, errs = runCLI(t, "audit", "verify", "--file", export, "--checkpoint", cp)
	if code != 0 || !strings.Contains(out, "ok: checkpoint position") {
		t.Fatalf("an export: exit %d: %s%s", code, out, errs)
	}
}

func TestAuditVerifyRefusesCheckpointsTheLedgerKeysCannotVouchFor(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k1, k2, stranger := newLedgerKey(t, "k1"), newLedgerKey(t, "k2"), newLedgerKey(t, "k1")

	path, _ := auditLedger(t, 1)
	cpHead := appendLedger(t, path, k1.published(t0), nil)
	iat := t0.Add(time.Hour)
	byK1 := k1.checkpoint(t, cpHead, iat)
	byStranger := stranger.checkpoint(t, cpHead, iat)
	// k2 signs a checkpoint of a position before it was published.
	byK2Early := k2.checkpoint(t, cpHead, iat)
	appendLedger(t, path, k2.published(t0.Add(2*time.Hour)))

	tests := []struct {
		name string
		cp   string
		want string
	}{
		{"a checkpoint signed by another key under a known kid is refused", byStranger, "signature does not verify"},
		{"a key published after the checkpoint's position cannot have signed it", byK2Early, "after the checkpoint's position"},
		{"a checkpoint whose claims the ledger contradicts is refused", k1.checkpoint(t, eventstore.Head{Position: cpHead.Position, Hash: strings.Repeat("e", 64)}, iat), "differs from the signed checkpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCLI(t, "audit", "verify", "--checkpoint", tt.cp)
			if code != 1 || !strings.Contains(out+errs, tt.want) {
				t.Fatalf("exit %d: %s%s", code, out, errs)
			}
		})
	}

	// A revocation after the checkpoint's iat: verified as of its iat, with a warning.
	appendLedger(t, path, keyring.KeyRevoked{KID: "k1", At: iat.Add(time.Minute), Reason: "compromised"})
	code, out, errs := runCLI(t, "audit", "verify", "--checkpoint", byK1)
	if code != 0 || !strings.Contains(out, `warning: key "k1" was revoked at`) {
		t.Fatalf("a key revoked after the checkpoint: exit %d: %s%s", code, out, errs)
	}
	// A checkpoint claiming an iat at or after the revocation is refused.
	late := k1.checkpoint(t, cpHead, iat.Add(time.Minute))
	code, out, errs = runCLI(t, "audit", "verify", "--checkpoint", late)
	if code != 1 || !strings.Contains(errs, "revoked at or before its iat") {
		t.Fatalf("a key revoked before the checkpoint's iat: exit %d: %s%s", code, out, errs)
	}
}
