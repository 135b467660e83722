package audit_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authledger/authledger/eventstore/audit"
)

type signingKey struct {
	priv ed25519.PrivateKey
	kid  string
}

func newKey(t *testing.T, kid string) signingKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{priv: priv, kid: kid}
}

func (k signingKey) jwks() jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(jose.EdDSA), Use: "sig"}}}
}

// sign makes a compact JWS over payload as the service's checkpoint
// endpoint would.
func (k signingKey) sign(t *testing.T, payload any) []byte {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return []byte(s)
}

func claims(pos uint64, hash string) map[string]any {
	return map[string]any{"position": pos, "hash": hash, "iat": time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC).Unix()}
}

func TestACheckpointProvesTheLedgerStillHoldsItsPrefix(t *testing.T) {
	t.Parallel()
	key := newKey(t, "k1")
	recs := sealed(t, 10)
	export := join(exportOf(t, recs))

	cp, err := audit.ParseCheckpoint(key.sign(t, claims(6, recs[5].Hash)), key.jwks())
	if err != nil {
		t.Fatal(err)
	}
	if cp.Position != 6 || cp.Hash != recs[5].Hash || cp.KeyID != "k1" || cp.IssuedAt.Year() != 2026 {
		t.Fatalf("checkpoint %+v", cp)
	}

	t.Run("the untouched ledger passes", func(t *testing.T) {
		if _, err := audit.VerifyExport(bytes.NewReader(export), audit.Options{Checkpoint: &cp}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a checkpoint at the head passes", func(t *testing.T) {
		head, err := audit.ParseCheckpoint(key.sign(t, claims(10, recs[9].Hash)), key.jwks())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := audit.VerifyExport(bytes.NewReader(export), audit.Options{Checkpoint: &head}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a truncated ledger names the first missing position", func(t *testing.T) {
		short := join(exportOf(t, recs[:4]))
		_, err := audit.VerifyExport(bytes.NewReader(short), audit.Options{Checkpoint: &cp})
		wantBreak(t, err, 5)
		if !strings.Contains(err.Error(), "truncated") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("a ledger rewritten and rehashed from an earlier event fails at the checkpoint", func(t *testing.T) {
		rewritten := sealed(t, 10) // a valid chain, but not the one that was signed
		_, err := audit.VerifyExport(bytes.NewReader(join(exportOf(t, rewritten))), audit.Options{Checkpoint: &cp})
		wantBreak(t, err, 6)
		if !strings.Contains(err.Error(), "checkpoint") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("a checkpoint of the empty ledger holds for any ledger", func(t *testing.T) {
		zero, err := audit.ParseCheckpoint(key.sign(t, claims(0, strings.Repeat("0", 64))), key.jwks())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := audit.VerifyExport(bytes.NewReader(export), audit.Options{Checkpoint: &zero}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAnUntrustworthyCheckpointIsRefused(t *testing.T) {
	t.Parallel()
	key := newKey(t, "k1")
	other := newKey(t, "k1")
	hash := strings.Repeat("ab", 32)
	hs256 := func() []byte {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")}, nil)
		if err != nil {
			t.Fatal(err)
		}
		jws, _ := signer.Sign([]byte(fmt.Sprintf(`{"position":1,"hash":%q,"iat":1}`, hash)))
		s, _ := jws.CompactSerialize()
		return []byte(s)
	}
	cases := []struct {
		name string
		raw  []byte
		keys jose.JSONWebKeySet
		want string
	}{
		{"signed by a key that is not in the JWKS", other.sign(t, claims(1, hash)), key.jwks(), "does not verify"},
		{"signed under an unknown key id", newKey(t, "k9").sign(t, claims(1, hash)), key.jwks(), `key "k9" is not in the JWKS`},
		{"signed with HS256", hs256(), key.jwks(), "unexpected signature algorithm"},
		{"with a payload lacking the hash", key.sign(t, map[string]any{"position": 1, "iat": 1}), key.jwks(), "must hold position, hash and iat"},
		{"with a negative position", key.sign(t, map[string]any{"position": -1, "hash": hash, "iat": 1}), key.jwks(), "not a non-negative integer"},
		{"with a short hash", key.sign(t, claims(1, "abc")), key.jwks(), "64 lower-case hex"},
		{"with a tampered payload", tamperPayload(key.sign(t, claims(1, hash))), key.jwks(), "does not verify"},
		{"that is not a JWS", []byte("hello"), key.jwks(), "checkpoint not verifiable"},
		{"wrapped in JSON without a checkpoint member", []byte(`{"jws":"x"}`), key.jwks(), `without a "checkpoint" string`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := audit.ParseCheckpoint(tc.raw, tc.keys)
			if !errors.Is(err, audit.ErrBadCheckpoint) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want ErrBadCheckpoint saying %q, got %v", tc.want, err)
			}
		})
	}
}

func TestTheCheckpointEndpointsAnswerIsAccepted(t *testing.T) {
	t.Parallel()
	key := newKey(t, "")
	hash := strings.Repeat("cd", 32)
	body, _ := json.Marshal(map[string]string{"checkpoint": string(key.sign(t, claims(3, hash)))})
	cp, err := audit.ParseCheckpoint(append(body, '\n'), key.jwks())
	if err != nil {
		t.Fatal(err)
	}
	if cp.Position != 3 || cp.Hash != hash {
		t.Fatalf("%+v", cp)
	}
}

// tamperPayload swaps the JWS payload for another one, keeping the
// signature.
func tamperPayload(jws []byte) []byte {
	parts := bytes.Split(jws, []byte("."))
	other, _ := json.Marshal(claims(2, strings.Repeat("ab", 32)))
	parts[1] = []byte(b64(other))
	return bytes.Join(parts, []byte("."))
}
