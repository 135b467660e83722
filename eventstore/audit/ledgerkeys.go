package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/authledger/authledger/domain/keyring"
	"github.com/authledger/authledger/eventstore"
)

// ErrCheckpointKeyRevoked is wrapped (with ErrBadCheckpoint) when the key
// that signed a checkpoint had been revoked at or before the checkpoint's
// iat: whoever held the compromised key could have signed it.
var ErrCheckpointKeyRevoked = errors.New("audit: checkpoint signed by a key revoked at or before its iat")

// SignedCheckpoint is a checkpoint read but not yet verified: its claims
// are untrusted until Verify or LedgerKeys.Verify succeeds. It exists so the
// keys that verify it can be collected from the very ledger being checked.
type SignedCheckpoint struct {
	// Claims as read from the payload, unverified.
	Claims Checkpoint
	jws    *jose.JSONWebSignature
}

// ReadCheckpoint parses a checkpoint (the compact JWS or the JSON answer of
// GET /v1/audit/checkpoint) without checking its signature. The algorithm
// is pinned to EdDSA and exactly one signature is allowed.
func ReadCheckpoint(raw []byte) (*SignedCheckpoint, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '{' {
		var wrapped struct {
			Checkpoint string `json:"checkpoint"`
		}
		if err := json.Unmarshal(raw, &wrapped); err != nil || wrapped.Checkpoint == "" {
			return nil, fmt.Errorf(`%w: JSON without a "checkpoint" string`, ErrBadCheckpoint)
		}
		raw = []byte(wrapped.Checkpoint)
	}
	jws, err := jose.ParseSignedCompact(string(raw), []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
	}
	if len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%w: want exactly one signature", ErrBadCheckpoint)
	}
	cp, err := checkpointClaims(jws.UnsafePayloadWithoutVerification())
	if err != nil {
		return nil, err
	}
	cp.KeyID = jws.Signatures[0].Header.KeyID
	return &SignedCheckpoint{Claims: cp, jws: jws}, nil
}

// Verify checks the signature with keys (see ParseCheckpoint).
func (s *SignedCheckpoint) Verify(keys jose.JSONWebKeySet) (Checkpoint, error) {
	candidates := keys.Keys
	if kid := s.Claims.KeyID; kid != "" {
		if candidates = keys.Key(kid); len(candidates) == 0 {
			return Checkpoint{}, fmt.Errorf("%w: key %q is not in the JWKS", ErrBadCheckpoint, kid)
		}
	}
	for _, k := range candidates {
		if pub, ok := k.Key.(ed25519.PublicKey); ok {
			if _, err := s.jws.Verify(pub); err == nil {
				return s.Claims, nil
			}
		}
	}
	return Checkpoint{}, fmt.Errorf("%w: signature does not verify with any Ed25519 public key of the JWKS", ErrBadCheckpoint)
}

func checkpointClaims(payload []byte) (Checkpoint, error) {
	bad := func(format string, a ...any) (Checkpoint, error) {
		return Checkpoint{}, fmt.Errorf("%w: %s", ErrBadCheckpoint, fmt.Sprintf(format, a...))
	}
	var claims struct {
		Position *json.Number `json:"position"`
		Hash     *string      `json:"hash"`
		IAT      *json.Number `json:"iat"`
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return bad("payload: %v", err)
	}
	if claims.Position == nil || claims.Hash == nil || claims.IAT == nil {
		return bad("payload must hold position, hash and iat")
	}
	pos, err := strconv.ParseUint(claims.Position.String(), 10, 64)
	if err != nil {
		return bad("position %q is not a non-negative integer", claims.Position.String())
	}
	iat, err := strconv.ParseInt(claims.IAT.String(), 10, 64)
	if err != nil {
		return bad("iat %q is not an integer", claims.IAT.String())
	}
	if !isHash(*claims.Hash) {
		return bad("hash is not 64 lower-case hex digits")
	}
	return Checkpoint{Position: pos, Hash: *claims.Hash, IssuedAt: time.Unix(iat, 0).UTC()}, nil
}

// LedgerKeys collects the signing keys the ledger itself published (the
// public JWK of every keyring key_published event) and their revocations,
// so a checkpoint can be verified without a JWKS file, including one signed
// by a key that has since been retired or dropped from the JWKS. Pass it as
// Options.Keys: it sees only events that passed verification, in order.
//
// Trust: a key found this way proves the checkpoint was signed by a key the
// ledger published at or before the checkpoint's position, which the
// checkpoint's own hash then covers. It cannot tell the issuer from someone
// who replaced both the ledger and the checkpoint file; against that, pin
// the issuer's keys with a JWKS kept elsewhere (audit verify --jwks).
type LedgerKeys struct {
	keys map[string]*ledgerKey
}

type ledgerKey struct {
	jwk       jose.JSONWebKey
	published uint64 // ledger position of key_published
	revoked   *time.Time
}

// Revocation reports when kid was revoked, if the ledger says so.
func (k *LedgerKeys) Revocation(kid string) (time.Time, bool) {
	if lk := k.keys[kid]; lk != nil && lk.revoked != nil {
		return *lk.revoked, true
	}
	return time.Time{}, false
}

// Len is how many keys were collected.
func (k *LedgerKeys) Len() int { return len(k.keys) }

func (k *LedgerKeys) observe(r eventstore.Record) {
	if !keyring.Knows(r.Type) {
		return
	}
	ev, err := keyring.Decode(r.Type, r.Data)
	if err != nil {
		return // not a usable event: it will simply verify nothing
	}
	switch e := ev.(type) {
	case keyring.KeyPublished:
		if e.JWK.Kty != "OKP" || e.JWK.Crv != "Ed25519" || e.KID == "" {
			return // not a usable key: it will simply verify nothing
		}
		x, err := base64.RawURLEncoding.DecodeString(e.JWK.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return
		}
		if k.keys == nil {
			k.keys = map[string]*ledgerKey{}
		}
		if _, dup := k.keys[e.KID]; dup {
			return // the first publication of a kid is the one that counts
		}
		k.keys[e.KID] = &ledgerKey{jwk: jose.JSONWebKey{Key: ed25519.PublicKey(x), KeyID: e.KID, Algorithm: "EdDSA", Use: "sig"}, published: r.Position}
	case keyring.KeyRevoked:
		if lk := k.keys[e.KID]; lk != nil && lk.revoked == nil {
			at := e.At
			if at.IsZero() {
				at = r.RecordedAt
			}
			lk.revoked = &at
		}
	}
}

// Verify checks s against the collected keys: the header must name a key
// the ledger published at or before the checkpoint's position, its
// signature must verify, and the key must not have been revoked at or
// before the checkpoint's iat. A key revoked later still verifies the
// checkpoint as of its iat (the caller should say so: see Revocation).
func (k *LedgerKeys) Verify(s *SignedCheckpoint) (Checkpoint, error) {
	kid := s.Claims.KeyID
	if kid == "" {
		return Checkpoint{}, fmt.Errorf("%w: no kid header to find the key in the ledger", ErrBadCheckpoint)
	}
	lk := k.keys[kid]
	if lk == nil {
		return Checkpoint{}, fmt.Errorf("%w: key %q was never published in the ledger", ErrBadCheckpoint, kid)
	}
	if lk.published > s.Claims.Position {
		return Checkpoint{}, fmt.Errorf("%w: key %q was published at position %d, after the checkpoint's position %d", ErrBadCheckpoint, kid, lk.published, s.Claims.Position)
	}
	cp, err := s.Verify(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{lk.jwk}})
	if err != nil {
		return Checkpoint{}, err
	}
	if lk.revoked != nil && !lk.revoked.After(cp.IssuedAt) {
		return Checkpoint{}, fmt.Errorf("%w: %w: key %q revoked at %s", ErrBadCheckpoint, ErrCheckpointKeyRevoked, kid, lk.revoked.UTC().Format(time.RFC3339))
	}
	return cp, nil
}
