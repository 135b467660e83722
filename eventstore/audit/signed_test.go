package audit_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authledger/authledger/domain/keyring"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/audit"
)

// keyedLedger seals n events whose first publishes key's public half on the
// keyring stream, so the ledger itself can vouch for key's checkpoints.
func keyedLedger(t *testing.T, key signingKey, n int) []eventstore.Record {
	t.Helper()
	pub, _ := json.Marshal(keyring.KeyPublished{KID: key.kid, At: t0, ActivateAt: t0, JWK: keyring.PublicJWK{
		Kty: "OKP", Crv: "Ed25519", Kid: key.kid, Use: "sig", Alg: "EdDSA",
		X: base64.RawURLEncoding.EncodeToString(key.priv.Public().(ed25519.PublicKey)),
	}})
	head := eventstore.Head{Hash: eventstore.GenesisHash}
	versions := map[string]uint64{}
	var out []eventstore.Record
	for i := range n {
		stream, typ, data := fmt.Sprintf("session-%d", i), "Filler", json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))
		if i == 0 {
			stream, typ, data = keyring.Stream, keyring.TypeKeyPublished, pub
		}
		recs, err := eventstore.Seal(head, t0.Add(time.Duration(i)*time.Millisecond), versions, []eventstore.StreamAppend{{
			Stream: stream, Events: []eventstore.Event{{ID: uuid.Must(uuid.NewV7()).String(), Type: typ, Data: data}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		versions[stream] = recs[0].Version
		head = eventstore.Head{Position: recs[0].Position, Hash: recs[0].Hash}
		out = append(out, recs[0])
	}
	return out
}

func TestASignedCheckpointIsVerifiedBeforeItIsComparedWithTheLedger(t *testing.T) {
	t.Parallel()
	issuer := newKey(t, "k1")
	attacker := newKey(t, "k1") // the issuer's kid, another key
	recs := keyedLedger(t, issuer, 6)
	bogus := strings.Repeat("e", 64)
	intact := join(exportOf(t, recs))
	tamperedAt5 := append([]eventstore.Record(nil), recs...)
	tamperedAt5[4].Data = json.RawMessage(`{"n":99}`)
	tampered := join(exportOf(t, tamperedAt5))

	verify := func(t *testing.T, export []byte, cp []byte) error {
		t.Helper()
		signed, err := audit.ReadCheckpoint(cp)
		if err != nil {
			t.Fatal(err)
		}
		_, err = audit.VerifyExport(bytes.NewReader(export), audit.Options{Signed: signed, Keys: &audit.LedgerKeys{}})
		return err
	}
	refused := func(t *testing.T, err error) {
		t.Helper()
		var ae *audit.Error
		if !errors.Is(err, audit.ErrBadCheckpoint) || errors.Is(err, audit.ErrChainBroken) || errors.As(err, &ae) {
			t.Fatalf("want ErrBadCheckpoint and no chain verdict, got %v", err)
		}
	}

	t.Run("an attacker's checkpoint contradicting an intact ledger is refused as unverifiable", func(t *testing.T) {
		refused(t, verify(t, intact, attacker.sign(t, claims(3, bogus))))
	})
	t.Run("an attacker's checkpoint beyond the head is refused as unverifiable, not as truncation", func(t *testing.T) {
		refused(t, verify(t, intact, attacker.sign(t, claims(60, bogus))))
	})
	t.Run("the issuer's checkpoint matching an intact ledger verifies", func(t *testing.T) {
		if err := verify(t, intact, issuer.sign(t, claims(3, recs[2].Hash))); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("the issuer's checkpoint the ledger contradicts proves a rewrite", func(t *testing.T) {
		err := verify(t, intact, issuer.sign(t, claims(3, bogus)))
		wantBreak(t, err, 3)
		if !strings.Contains(err.Error(), "rewritten") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("the issuer's checkpoint beyond the head proves truncation", func(t *testing.T) {
		err := verify(t, intact, issuer.sign(t, claims(9, bogus)))
		wantBreak(t, err, 7)
		if !strings.Contains(err.Error(), "truncated") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("a chain break after a checkpoint the ledger contradicts names the checkpoint's position when it verifies", func(t *testing.T) {
		wantBreak(t, verify(t, tampered, issuer.sign(t, claims(3, bogus))), 3)
	})
	t.Run("a chain break is named as such whatever an unverifiable checkpoint claims", func(t *testing.T) {
		wantBreak(t, verify(t, tampered, attacker.sign(t, claims(3, bogus))), 5)
	})
	t.Run("a checkpoint the ledger's keys cannot vouch for is refused on an empty export", func(t *testing.T) {
		refused(t, verify(t, nil, issuer.sign(t, claims(0, eventstore.GenesisHash))))
	})
}
