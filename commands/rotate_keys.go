package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/authledger/authledger/domain/keyring"
)

// RotateKeys publishes a new signing key. Ordinarily it activates after the
// publication lead (the scheduler does that); Immediately activates it at
// once, for an emergency after a compromise.
type RotateKeys struct {
	Immediately bool
}

// Rotate runs RotateKeys and returns the new key as recorded.
func (k *Keys) Rotate(ctx context.Context, cmd RotateKeys, meta Metadata) (_ keyring.Key, err error) {
	ctx, end := startCommand(ctx, "RotateKeys")
	defer func() { end(err) }()
	var kid string
	r, err := k.decide(ctx, meta, func(r *keyring.Ring, now time.Time) (*keyring.NewKey, error) {
		if next, ok := r.Next(); ok && !cmd.Immediately {
			// Refuse before generating: a second pending key helps nobody.
			return nil, fmt.Errorf("%w: %s activates at %s", keyring.ErrRotationPending, next.KID, next.ActivateAt.UTC().Format(time.RFC3339))
		}
		nk, err := k.generate(ctx)
		if err != nil {
			return nil, err
		}
		kid = nk.JWK.Kid
		return &nk, r.Rotate(nk, now, k.policy, cmd.Immediately)
	})
	if err != nil {
		return keyring.Key{}, err
	}
	key, _ := r.Key(kid)
	return key, nil
}

// TickResult says what a scheduler tick did.
type TickResult struct {
	Published string   // kid of a newly published key
	Activated string   // kid that started signing
	Dropped   []string // kids that left the JWKS
}

// Tick does what the policy asks for at this moment: activates a published
// key whose lead has passed, drops retired keys past their tail, and
// publishes a successor when the active key nears the end of its interval
// (or at once when the ring has no signing key, e.g. on first start). With
// several instances ticking together exactly one append wins; the others
// reload and find nothing left to do.
func (k *Keys) Tick(ctx context.Context, meta Metadata) (TickResult, error) {
	var res TickResult
	_, err := k.decide(ctx, meta, func(r *keyring.Ring, now time.Time) (*keyring.NewKey, error) {
		res = TickResult{}
		r.Advance(now, k.policy)
		var nk *keyring.NewKey
		if r.NeedsRotation(now, k.policy) {
			g, err := k.generate(ctx)
			if err != nil {
				return nil, err
			}
			nk = &g
			if err := r.Rotate(g, now, k.policy, false); err != nil {
				return nk, err
			}
			res.Published = g.JWK.Kid
		}
		for _, e := range r.Pending() {
			switch e := e.(type) {
			case keyring.KeyActivated:
				res.Activated = e.KID
			case keyring.KeyDropped:
				res.Dropped = append(res.Dropped, e.KID)
			}
		}
		return nk, nil
	})
	return res, err
}
