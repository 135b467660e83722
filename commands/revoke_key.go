package commands

import (
	"context"
	"time"

	"github.com/authledger/authledger/domain/keyring"
)

// RevokeKey takes a key out of the JWKS at once after a compromise; every
// token it signed then fails verification. Revoking the signing key also
// publishes and activates a fresh key in the same append, so signing never
// stops and never falls back to the compromised key.
type RevokeKey struct {
	KID    string
	Reason string
}

// RevokeResult names the key that replaced a revoked signing key, if any.
type RevokeResult struct {
	Replacement string
}

// Revoke runs RevokeKey.
func (k *Keys) Revoke(ctx context.Context, cmd RevokeKey, meta Metadata) (RevokeResult, error) {
	var res RevokeResult
	_, err := k.decide(ctx, meta, func(r *keyring.Ring, now time.Time) (*keyring.NewKey, error) {
		res = RevokeResult{}
		active, hadActive := r.Active()
		if err := r.Revoke(cmd.KID, now, cmd.Reason); err != nil {
			return nil, err
		}
		if !hadActive || active.KID != cmd.KID {
			return nil, nil
		}
		nk, err := k.generate(ctx)
		if err != nil {
			return nil, err
		}
		res.Replacement = nk.JWK.Kid
		return &nk, r.Rotate(nk, now, k.policy, true)
	})
	return res, err
}
