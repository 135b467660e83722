package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// ErrBadCheckpoint is wrapped by every checkpoint that cannot be trusted:
// malformed, signed with another algorithm, by an unknown key, or with a bad
// signature.
var ErrBadCheckpoint = errors.New("audit: checkpoint not verifiable")

// Checkpoint is a signed ledger head (DESIGN.md §3): whoever keeps one can
// later prove the ledger still starts with exactly that prefix.
type Checkpoint struct {
	Position uint64
	Hash     string
	IssuedAt time.Time
	KeyID    string
}

// ParseCheckpoint verifies a checkpoint and returns its claims. raw is the
// compact JWS or the JSON answer of GET /v1/audit/checkpoint
// ({"checkpoint": "<JWS>"}). The algorithm is pinned to EdDSA and the key
// must be an Ed25519 public key of keys: a checkpoint is only as good as
// the key that signed it, so nothing else is accepted.
func ParseCheckpoint(raw []byte, keys jose.JSONWebKeySet) (Checkpoint, error) {
	bad := func(format string, a ...any) (Checkpoint, error) {
		return Checkpoint{}, fmt.Errorf("%w: %s", ErrBadCheckpoint, fmt.Sprintf(format, a...))
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '{' {
		var wrapped struct {
			Checkpoint string `json:"checkpoint"`
		}
		if err := json.Unmarshal(raw, &wrapped); err != nil || wrapped.Checkpoint == "" {
			return bad(`JSON without a "checkpoint" string`)
		}
		raw = []byte(wrapped.Checkpoint)
	}
	jws, err := jose.ParseSignedCompact(string(raw), []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return bad("%v", err)
	}
	if len(jws.Signatures) != 1 {
		return bad("want exactly one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	candidates := keys.Keys
	if kid != "" {
		candidates = keys.Key(kid)
		if len(candidates) == 0 {
			return bad("key %q is not in the JWKS", kid)
		}
	}
	var payload []byte
	for _, k := range candidates {
		pub, ok := k.Key.(ed25519.PublicKey)
		if !ok {
			continue
		}
		if p, err := jws.Verify(pub); err == nil {
			payload = p
			break
		}
	}
	if payload == nil {
		return bad("signature does not verify with any Ed25519 public key of the JWKS")
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
	return Checkpoint{Position: pos, Hash: *claims.Hash, IssuedAt: time.Unix(iat, 0).UTC(), KeyID: kid}, nil
}
