package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/domain/oauth"
)

// DPoP (RFC 9449) at authledger's own endpoints. The proof checks live in
// client/verifier (the same code resource servers run); api sees them
// through DPoPChecker, which internal/compose adapts.

// DPoPAlgs are the proof algorithms accepted (client/verifier.DPoPAlgs),
// for the metadata and the challenges.
var DPoPAlgs = []string{"EdDSA", "Ed25519", "ES256"}

// DPoPRequest is what a proof must match.
type DPoPRequest struct {
	Method string
	// URI is the public URI of the request (the issuer's base and the
	// path), never one derived from Host, which a client chooses.
	URI string
	// AccessToken, when the request carries one, must be hashed in ath.
	AccessToken string
	// NonceValid, when set, must accept the proof's nonce (RFC 9449 §8),
	// or the checker answers oauth.ErrUseDPoPNonce.
	NonceValid func(nonce string) bool
}

// DPoPNonces makes and checks server nonces (commands.DPoPNonces).
type DPoPNonces interface {
	Current() string
	Valid(nonce string) bool
}

// DPoPChecker validates a DPoP proof and admits its jti once; it returns
// the proof key's RFC 7638 thumbprint. Its errors are
// oauth.ErrInvalidDPoPProof (with a client-safe hint), or an outage of the
// replay cache, which refuses the request (fail closed).
type DPoPChecker interface {
	CheckProof(ctx context.Context, proof string, req DPoPRequest) (jkt string, err error)
}

// dpopKey is the context key of a request's validated proof thumbprint.
type dpopKey struct{}

// proofJKT is the thumbprint of the request's validated DPoP proof, "" when
// it carried none.
func proofJKT(req *http.Request) string {
	s, _ := req.Context().Value(dpopKey{}).(string)
	return s
}

// dpopProof reads the request's DPoP header: "" when absent, an
// invalid_dpop_proof when sent more than once (RFC 9449 §4.3 item 1).
func dpopProof(req *http.Request) (string, error) {
	v := req.Header.Values("DPoP")
	switch len(v) {
	case 0:
		return "", nil
	case 1:
		return v[0], nil
	}
	return "", oauth.ErrInvalidDPoPProof.WithHint("exactly one DPoP header is allowed")
}

// tokenEndpointProof validates the DPoP proof of a token request (RFC 9449
// §5): "" when there is none. With no checker a proof is refused rather
// than ignored, so a client never believes it holds a bound token.
//
// A client registered with dpop_nonce_required must put a current server
// nonce in its proof: otherwise the answer is use_dpop_nonce with a fresh
// DPoP-Nonce header (RFC 9449 §8.1), and every answer to it carries the
// nonce to use next.
func tokenEndpointProof(c echo.Context, checker DPoPChecker, nonces DPoPNonces, uri string, needNonce bool) (string, error) {
	req := c.Request()
	proof, err := dpopProof(req)
	if err != nil || proof == "" {
		return "", err
	}
	if checker == nil {
		return "", oauth.ErrInvalidDPoPProof.WithHint("DPoP is not enabled on this server")
	}
	dr := DPoPRequest{Method: req.Method, URI: uri}
	if needNonce {
		if nonces == nil {
			return "", oauth.ErrServerError.WithDebug("dpop: a client requires nonces but the server has no nonce source")
		}
		dr.NonceValid = nonces.Valid
		c.Response().Header().Set("DPoP-Nonce", nonces.Current())
	}
	jkt, err := checker.CheckProof(req.Context(), proof, dr)
	if errors.Is(err, oauth.ErrUseDPoPNonce) {
		return "", oauth.ErrUseDPoPNonce.WithHint("use the server nonce in DPoP-Nonce").WithDebug(err.Error())
	}
	return jkt, err
}

// DPoPResource validates DPoP proofs on authledger's own /v1 APIs (RFC
// 9449 §7): with the DPoP scheme a proof must come with ath = the token's
// hash; with Bearer or no token (POST /v1/sessions binds the new session's
// tokens to the caller's key) a proof is optional. The thumbprint is kept
// in the request context; bearerToken then accepts the DPoP scheme, and
// every token check compares the token's cnf.jkt with it (bindingHolds).
// A bad proof answers 401 with a DPoP challenge here. It sits in the
// global middleware before BearerRequestLimit.
func DPoPResource(checker DPoPChecker, issuer string) echo.MiddlewareFunc {
	base := strings.TrimRight(issuer, "/")
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if !strings.HasPrefix(req.URL.Path, "/v1/") {
				return next(c)
			}
			proof, err := dpopProof(req)
			if err != nil {
				return errDPoPInvalid(c, err)
			}
			scheme, raw, _ := strings.Cut(req.Header.Get(echo.HeaderAuthorization), " ")
			isDPoP := strings.EqualFold(scheme, "DPoP")
			if proof == "" {
				if isDPoP {
					return errDPoPInvalid(c, oauth.ErrInvalidDPoPProof.WithHint("the DPoP scheme needs a DPoP proof"))
				}
				return next(c)
			}
			dr := DPoPRequest{Method: req.Method, URI: base + req.URL.EscapedPath()}
			if isDPoP {
				dr.AccessToken = strings.TrimSpace(raw)
			}
			jkt, err := checker.CheckProof(req.Context(), proof, dr)
			if err != nil {
				return errDPoPInvalid(c, err)
			}
			c.SetRequest(req.WithContext(context.WithValue(req.Context(), dpopKey{}, jkt)))
			return next(c)
		}
	}
}

// bindingHolds applies RFC 9449 §7 to a verified token of req whose cnf.jkt
// is jkt: a bound token only with the DPoP scheme and a proof by its key, an
// unbound one only as Bearer (no downgrade either way).
func bindingHolds(req *http.Request, jkt string) bool {
	scheme, _, _ := strings.Cut(req.Header.Get(echo.HeaderAuthorization), " ")
	if !strings.EqualFold(scheme, "DPoP") {
		return jkt == ""
	}
	proof := proofJKT(req)
	return jkt != "" && proof != "" && subtle.ConstantTimeCompare([]byte(jkt), []byte(proof)) == 1
}

// errBindingBroken is the 401 answer to a valid token presented against
// its binding: a DPoP-bound token as Bearer or with another key's proof,
// or an unbound token under the DPoP scheme. The DPoP challenge tells a
// client that downgraded which scheme to use.
func errBindingBroken(c echo.Context) error {
	c.Response().Header().Set("WWW-Authenticate", dpopChallenge("invalid_token", "the token is not used as bound (RFC 9449 section 7)"))
	return NewProblem(http.StatusUnauthorized, "invalid-token", "Unauthorized", "a DPoP-bound token needs the DPoP scheme and a proof by its key; a bearer token needs the Bearer scheme")
}

func dpopChallenge(errCode, desc string) string {
	ch := `DPoP algs="` + strings.Join(DPoPAlgs, " ") + `"`
	if errCode != "" {
		ch = `DPoP error="` + errCode + `", error_description="` + desc + `", algs="` + strings.Join(DPoPAlgs, " ") + `"`
	}
	return ch
}

// errDPoPInvalid is the 401 answer to a bad proof on a /v1 API (RFC 9449
// §7.1); an outage of the replay cache passes through to the error
// handler (503).
func errDPoPInvalid(c echo.Context, err error) error {
	if errors.Is(err, oauth.ErrTemporarilyUnavail) {
		// The replay cache cannot answer: refuse (fail closed), retryably.
		c.Response().Header().Set("Retry-After", "1")
		return NewProblem(http.StatusServiceUnavailable, "dpop-replay-check-unavailable", "Service Unavailable", "the DPoP replay check is unavailable; retry later")
	}
	var oe *oauth.Error
	if !errors.As(err, &oe) || !errors.Is(err, oauth.ErrInvalidDPoPProof) {
		return err
	}
	c.Response().Header().Set("WWW-Authenticate", dpopChallenge("invalid_dpop_proof", oe.Hint))
	return NewProblem(http.StatusUnauthorized, "invalid-dpop-proof", "Unauthorized", "the DPoP proof is not valid: "+oe.Hint)
}
