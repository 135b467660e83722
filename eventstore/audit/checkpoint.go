package audit

import (
	"errors"
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
	s, err := ReadCheckpoint(raw)
	if err != nil {
		return Checkpoint{}, err
	}
	return s.Verify(keys)
}
