package compose

import (
	"context"
	"errors"
	"time"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/client/verifier"
	"github.com/authledger/authledger/domain/oauth"
)

// DPoPChecker adapts client/verifier's ProofChecker to api.DPoPChecker, so
// the token endpoint, authledger's /v1 APIs and every resource server run
// the same RFC 9449 checks.
type DPoPChecker struct{ pc *verifier.ProofChecker }

var _ api.DPoPChecker = (*DPoPChecker)(nil)

// NewDPoPChecker checks proofs with the default window, admitting each jti
// once through replay (replayguard.Memory on one instance, replayguard.Redis
// across instances). now nil means time.Now.
func NewDPoPChecker(replay verifier.ReplayCache, now func() time.Time) (*DPoPChecker, error) {
	pc, err := verifier.NewProofChecker(verifier.ProofConfig{Replay: replay, Now: now})
	if err != nil {
		return nil, err
	}
	return &DPoPChecker{pc: pc}, nil
}

// CheckProof implements api.DPoPChecker. The hint is the verifier
// sentinel's own text, safe for clients and free of quotes.
func (d *DPoPChecker) CheckProof(ctx context.Context, proof string, req api.DPoPRequest) (string, error) {
	p, err := d.pc.Check(ctx, proof, verifier.ProofRequest{Method: req.Method, URI: req.URI, AccessToken: req.AccessToken, NonceValid: req.NonceValid})
	switch {
	case err == nil:
		return p.JKT, nil
	case errors.Is(err, verifier.ErrDPoPReplayUnavailable):
		return "", oauth.ErrTemporarilyUnavail.WithDebug(err.Error())
	case errors.Is(err, verifier.ErrUseDPoPNonce):
		return "", oauth.ErrUseDPoPNonce.WithDebug(err.Error())
	}
	return "", oauth.ErrInvalidDPoPProof.WithHint(proofHint(err)).WithDebug(err.Error())
}

// proofHint is the sentinel that err matches, without its package prefix.
func proofHint(err error) string {
	for _, s := range []error{verifier.ErrDPoPProofMissing, verifier.ErrDPoPProofTooLarge, verifier.ErrDPoPMalformed, verifier.ErrDPoPWrongType,
		verifier.ErrDPoPUnsupportedAlg, verifier.ErrDPoPBadKey, verifier.ErrDPoPBadSignature, verifier.ErrDPoPMissingClaim, verifier.ErrDPoPWrongMethod,
		verifier.ErrDPoPWrongURI, verifier.ErrDPoPStale, verifier.ErrDPoPReplayed, verifier.ErrDPoPWrongAccessToken, verifier.ErrDPoPKeyMismatch} {
		if errors.Is(err, s) {
			msg := s.Error()
			if len(msg) > len("verifier: ") {
				return msg[len("verifier: "):]
			}
			return msg
		}
	}
	return "invalid DPoP proof"
}
