package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
)

// Realm is the realm of WWW-Authenticate challenges.
var Realm = "authledger"

// Denial is how a resource server answers a request the verifier refused
// (RFC 6750 §3): the status, the WWW-Authenticate challenge and the
// sentinel error. Framework adapters (client/echoverifier) and the
// net/http middleware below answer from the same Denial, so every stack
// sends the same challenge.
type Denial struct {
	Status    int
	Challenge string
	Err       error
}

func (d *Denial) Error() string { return d.Err.Error() }
func (d *Denial) Unwrap() error { return d.Err }

// Description is the sentinel's own text, never a wrapped detail: what a
// response body may repeat to the caller.
func (d *Denial) Description() string { return sentinelText(d.Err) }

// Authenticate verifies the bearer token of an Authorization header value
// (RFC 6750 §2.1). A missing token gets a bare challenge, a bad one
// error="invalid_token" (§3.1); both are 401.
func Authenticate(ctx context.Context, v *Verifier, authorization string) (*Claims, *Denial) {
	raw, ok := bearer(authorization)
	if !ok {
		return nil, &Denial{Status: http.StatusUnauthorized, Challenge: `Bearer realm="` + Realm + `"`, Err: ErrNoToken}
	}
	claims, err := v.Verify(ctx, raw)
	if err != nil {
		return nil, &Denial{Status: http.StatusUnauthorized,
			Challenge: `Bearer realm="` + Realm + `", error="invalid_token", error_description="` + sentinelText(err) + `"`, Err: err}
	}
	return claims, nil
}

// AuthenticateRequest verifies the request's token with VerifyRequest:
// RFC 6750 §2.1 Bearer, or RFC 9449 §7 DPoP with its proof when the
// Verifier has a ProofChecker. Refusals carry the challenge of Challenge:
// a bad proof is invalid_dpop_proof (§7.1) and a DPoP challenge lists the
// accepted algs.
func AuthenticateRequest(r *http.Request, v *Verifier) (*Claims, *Denial) {
	claims, err := v.VerifyRequest(r)
	if err != nil {
		return nil, &Denial{Status: http.StatusUnauthorized, Challenge: v.Challenge(r, err), Err: err}
	}
	return claims, nil
}

// Challenge is the WWW-Authenticate value answering a request that
// VerifyRequest refused with err: in the scheme the request used (a
// DPoP-bound token sent as Bearer is told to use DPoP), with a DPoP
// challenge beside the Bearer one for a request with no token when DPoP is
// accepted.
func (v *Verifier) Challenge(r *http.Request, err error) string {
	scheme, _, _ := RequestScheme(r)
	dpop := `DPoP algs="` + strings.Join(DPoPAlgs, " ") + `"`
	switch {
	case errors.Is(err, ErrNoToken) || errors.Is(err, ErrBadAuthorization):
		if v.cfg.DPoP != nil {
			return `Bearer realm="` + Realm + `", ` + dpop
		}
		return `Bearer realm="` + Realm + `"`
	case errors.Is(err, ErrInvalidDPoPProof):
		return `DPoP error="invalid_dpop_proof", error_description="` + sentinelText(err) + `", ` + `algs="` + strings.Join(DPoPAlgs, " ") + `"`
	case scheme == SchemeDPoP || errors.Is(err, ErrBoundTokenAsBearer):
		return `DPoP error="invalid_token", error_description="` + sentinelText(err) + `", ` + `algs="` + strings.Join(DPoPAlgs, " ") + `"`
	}
	return `Bearer realm="` + Realm + `", error="invalid_token", error_description="` + sentinelText(err) + `"`
}

// Authorize answers 403 insufficient_scope (RFC 6750 §3.1) unless claims
// grant every scope, and 401 when there are no claims at all.
func Authorize(claims *Claims, scopes ...string) *Denial {
	if claims == nil {
		return &Denial{Status: http.StatusUnauthorized, Challenge: `Bearer realm="` + Realm + `"`, Err: ErrNoToken}
	}
	for _, s := range scopes {
		if !claims.HasScope(s) {
			return &Denial{Status: http.StatusForbidden,
				Challenge: `Bearer realm="` + Realm + `", error="insufficient_scope", scope="` + strings.Join(scopes, " ") + `"`,
				Err:       ErrInsufficientScope}
		}
	}
	return nil
}

// AuthorizeAudience answers 401 invalid_token unless the claims' aud holds
// aud. A service that shares one Verifier across routes (a gateway, or a
// Verifier configured with several Audiences) checks it per route, so a
// token minted for service A is refused by service B even when both trust
// the same issuer and keys.
func AuthorizeAudience(claims *Claims, aud string) *Denial {
	if claims == nil {
		return &Denial{Status: http.StatusUnauthorized, Challenge: `Bearer realm="` + Realm + `"`, Err: ErrNoToken}
	}
	if !claims.HasAudience(aud) {
		return &Denial{Status: http.StatusUnauthorized,
			Challenge: `Bearer realm="` + Realm + `", error="invalid_token", error_description="` + ErrWrongAudience.Error() + `"`,
			Err:       ErrWrongAudience}
	}
	return nil
}

// HasAudience reports whether the token was minted for aud.
func (c *Claims) HasAudience(aud string) bool { return slices.Contains(c.Audience, aud) }

type claimsKey struct{}

// WithClaims returns ctx carrying claims, as Middleware does.
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFromContext returns the claims Middleware verified for this request.
func ClaimsFromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}

// Middleware is net/http middleware: it verifies the request's token
// (AuthenticateRequest: Bearer, or DPoP with its proof) and puts its
// claims in the request context (ClaimsFromContext), or answers the Denial.
func Middleware(v *Verifier) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			claims, d := AuthenticateRequest(r, v)
			if d != nil {
				WriteDenial(w, d)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithClaims(r.Context(), claims)))
		})
	}
}

// RequireScopes is net/http middleware admitting only tokens that grant
// every scope. It must run inside Middleware.
func RequireScopes(scopes ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			claims, _ := ClaimsFromContext(r.Context())
			if d := Authorize(claims, scopes...); d != nil {
				WriteDenial(w, d)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// RequireAudience is net/http middleware admitting only tokens whose aud
// holds aud. It must run inside Middleware.
func RequireAudience(aud string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			claims, _ := ClaimsFromContext(r.Context())
			if d := AuthorizeAudience(claims, aud); d != nil {
				WriteDenial(w, d)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// WriteDenial answers d: the challenge, the status and a small JSON body
// naming the RFC 6750 error code and the sentinel's text (never the
// wrapped detail).
func WriteDenial(w http.ResponseWriter, d *Denial) {
	w.Header().Set("WWW-Authenticate", d.Challenge)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(d.Status)
	body := map[string]string{"error_description": d.Description()}
	switch {
	case errors.Is(d.Err, ErrNoToken):
		body = map[string]string{}
	case d.Status == http.StatusForbidden:
		body["error"] = "insufficient_scope"
	case errors.Is(d.Err, ErrInvalidDPoPProof):
		body["error"] = "invalid_dpop_proof"
	default:
		body["error"] = "invalid_token"
	}
	_ = json.NewEncoder(w).Encode(body)
}

func bearer(h string) (string, bool) {
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	t := strings.TrimSpace(h[len(prefix):])
	return t, t != ""
}

// sentinelText is the sentinel's own text, never the wrapped detail, so the
// challenge carries nothing attacker-controlled (no quotes to escape).
func sentinelText(err error) string {
	for _, s := range []error{ErrTokenTooLarge, ErrMalformed, ErrUnsupportedAlg, ErrWrongType, ErrInvalidKID, ErrUnknownKey,
		ErrKeyRevoked, ErrBadSignature, ErrMissingClaim, ErrWrongIssuer, ErrWrongAudience, ErrExpired, ErrNotYetValid,
		ErrIssuedInFuture, ErrRevoked, ErrJWKSStale, ErrNoToken, ErrInsufficientScope, ErrBoundTokenAsBearer, ErrTokenNotBound, ErrDPoPNotAccepted,
		ErrBadAuthorization, ErrDPoPProofMissing, ErrDPoPProofTooLarge, ErrDPoPMalformed, ErrDPoPWrongType, ErrDPoPUnsupportedAlg,
		ErrDPoPBadKey, ErrDPoPBadSignature, ErrDPoPMissingClaim, ErrDPoPWrongMethod, ErrDPoPWrongURI, ErrDPoPStale, ErrDPoPReplayed,
		ErrDPoPWrongAccessToken, ErrDPoPKeyMismatch, ErrDPoPReplayUnavailable, ErrUseDPoPNonce} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return "invalid token"
}
