package verifier

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// DPoP (RFC 9449): a proof JWT, signed by a key the client holds, sent in
// the DPoP header of every request; a token bound to that key carries the
// key's RFC 7638 thumbprint in cnf.jkt.

// ProofType is the typ of a DPoP proof (RFC 9449 §4.2).
const ProofType = "dpop+jwt"

// DPoPAlgs are the proof algorithms accepted, in the order they are
// advertised (dpop_signing_alg_values_supported, the algs of a challenge).
// Asymmetric only: "none" and HMAC can never prove possession of a key.
// "Ed25519" is RFC 9864's fully specified name for EdDSA over Ed25519,
// which current JOSE libraries (jose for JavaScript, hence openid-client)
// put in their proofs.
var DPoPAlgs = []string{string(jose.EdDSA), algEd25519, string(jose.ES256)}

const algEd25519 = "Ed25519"

var dpopJoseAlgs = []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256}

// DefaultMaxProofBytes bounds a proof before any parsing. A proof with a
// P-256 key and an ath is about 700 bytes.
const DefaultMaxProofBytes = 4 << 10

// DefaultProofMaxAge is how old a proof's iat may be; DefaultProofSkew how
// far in the future (clock skew). RFC 9449 §11.1 asks for a short window;
// a client with a bad clock should use server nonces.
const (
	DefaultProofMaxAge = 60 * time.Second
	DefaultProofSkew   = 5 * time.Second
)

// maxJTIBytes bounds the proof jti kept in the replay cache.
const maxJTIBytes = 256

// ReplayCache admits each key once: Claim records key until until and
// reports whether it was new. An error means it cannot tell, and the proof
// is refused (fail closed). authledger's replayguard.Memory and
// replayguard.Redis implement it; MemoryReplayCache is a small in-process
// one for resource servers.
type ReplayCache interface {
	Claim(ctx context.Context, key string, until time.Time) (bool, error)
}

// proofError is an invalid DPoP proof: every one of them Is
// ErrInvalidDPoPProof, so a caller maps them all to invalid_dpop_proof,
// and each is its own sentinel, so tests tell them apart.
type proofError struct{ msg string }

func (e proofError) Error() string { return e.msg }

// Is makes every proof error match ErrInvalidDPoPProof.
func (e proofError) Is(target error) bool { return target == ErrInvalidDPoPProof }

// DPoP failures. Their text is safe to show to a client.
var (
	// ErrInvalidDPoPProof matches every proof failure below
	// (RFC 9449 §5 and §7.1 error "invalid_dpop_proof").
	ErrInvalidDPoPProof = errors.New("verifier: invalid DPoP proof")

	ErrDPoPProofMissing     error = proofError{"verifier: DPoP proof missing or sent more than once"}
	ErrDPoPProofTooLarge    error = proofError{"verifier: DPoP proof exceeds the size limit"}
	ErrDPoPMalformed        error = proofError{"verifier: malformed DPoP proof"}
	ErrDPoPWrongType        error = proofError{"verifier: DPoP proof typ is not dpop+jwt"}
	ErrDPoPUnsupportedAlg   error = proofError{"verifier: DPoP proof algorithm not allowed (EdDSA, Ed25519, ES256)"}
	ErrDPoPBadKey           error = proofError{"verifier: DPoP proof jwk is missing or not a public key"}
	ErrDPoPBadSignature     error = proofError{"verifier: DPoP proof signature invalid"}
	ErrDPoPMissingClaim     error = proofError{"verifier: DPoP proof claim missing"}
	ErrDPoPWrongMethod      error = proofError{"verifier: DPoP proof htm does not match the request"}
	ErrDPoPWrongURI         error = proofError{"verifier: DPoP proof htu does not match the request"}
	ErrDPoPStale            error = proofError{"verifier: DPoP proof iat outside the accepted window"}
	ErrDPoPReplayed         error = proofError{"verifier: DPoP proof replayed"}
	ErrDPoPWrongAccessToken error = proofError{"verifier: DPoP proof ath missing or not the token's hash"}
	ErrDPoPKeyMismatch      error = proofError{"verifier: DPoP proof key does not match the token's cnf.jkt"}
	// ErrDPoPReplayUnavailable: the replay cache could not answer, so the
	// proof is refused rather than accepted unchecked.
	ErrDPoPReplayUnavailable error = proofError{"verifier: DPoP replay check unavailable"}

	// ErrUseDPoPNonce: the server wants its nonce in the proof (RFC 9449
	// §8, §9): the answer carries a fresh DPoP-Nonce header. Not an
	// invalid proof: the client retries with the nonce.
	ErrUseDPoPNonce = errors.New("verifier: DPoP nonce required")
)

// ProofConfig configures a ProofChecker.
type ProofConfig struct {
	// Replay admits each proof jti once (required).
	Replay ReplayCache
	// MaxAge is how old iat may be; zero means DefaultProofMaxAge.
	MaxAge time.Duration
	// Skew is how far in the future iat may be; zero means
	// DefaultProofSkew.
	Skew time.Duration
	// MaxProofBytes bounds the proof; zero means DefaultMaxProofBytes.
	MaxProofBytes int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// ProofChecker validates DPoP proofs per RFC 9449 §4.3. It is safe for
// concurrent use.
type ProofChecker struct{ cfg ProofConfig }

// NewProofChecker checks the configuration.
func NewProofChecker(cfg ProofConfig) (*ProofChecker, error) {
	if cfg.Replay == nil {
		return nil, errors.New("verifier: DPoP: Replay is required")
	}
	if cfg.MaxAge < 0 || cfg.Skew < 0 || cfg.MaxAge > MaxLeeway || cfg.Skew > MaxLeeway {
		return nil, fmt.Errorf("verifier: DPoP: MaxAge and Skew must be between 0 and %s", MaxLeeway)
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = DefaultProofMaxAge
	}
	if cfg.Skew == 0 {
		cfg.Skew = DefaultProofSkew
	}
	if cfg.MaxProofBytes <= 0 {
		cfg.MaxProofBytes = DefaultMaxProofBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &ProofChecker{cfg: cfg}, nil
}

// ProofRequest is what a proof must match: the request it came with.
type ProofRequest struct {
	// Method is the HTTP method (htm).
	Method string
	// URI is the request's target URI as the client addressed it
	// (scheme, host, path; a query or fragment is ignored), for htu.
	URI string
	// AccessToken, when set, must be hashed in ath (RFC 9449 §4.3 item 11).
	AccessToken string
	// Nonce, when set, must equal the proof's nonce, or ErrUseDPoPNonce.
	Nonce string
	// NonceValid, when set, must accept the proof's nonce, or
	// ErrUseDPoPNonce: for servers whose nonces rotate (RFC 9449 §8).
	NonceValid func(nonce string) bool
}

// Proof is a validated proof.
type Proof struct {
	// JKT is the RFC 7638 SHA-256 thumbprint of the proof key, base64url:
	// the value of a bound token's cnf.jkt.
	JKT      string
	JTI      string
	Alg      string
	IssuedAt time.Time
	Nonce    string
}

// Check validates raw against req and admits its jti once. Every failure
// Is ErrInvalidDPoPProof, except ErrUseDPoPNonce.
func (pc *ProofChecker) Check(ctx context.Context, raw string, req ProofRequest) (*Proof, error) {
	p, err := pc.Validate(raw, req)
	if err != nil {
		return nil, err
	}
	if err := pc.Admit(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// Validate does every check of Check except the replay cache, so a caller
// that has more to check (the token the proof comes with) admits the jti
// only once everything else holds: a forged request never spends a jti.
func (pc *ProofChecker) Validate(raw string, req ProofRequest) (*Proof, error) {
	if len(raw) > pc.cfg.MaxProofBytes {
		return nil, ErrDPoPProofTooLarge
	}
	pp, err := ParseProof(raw)
	if err != nil {
		return nil, err
	}
	if pp.Method != req.Method {
		return nil, ErrDPoPWrongMethod
	}
	if !SameHTU(pp.HTU, req.URI) {
		return nil, ErrDPoPWrongURI
	}
	now := pc.cfg.Now()
	if pp.IssuedAt.Before(now.Add(-pc.cfg.MaxAge)) || pp.IssuedAt.After(now.Add(pc.cfg.Skew)) {
		return nil, ErrDPoPStale
	}
	if req.AccessToken != "" {
		want := AccessTokenHash(req.AccessToken)
		if pp.ATH == "" || subtle.ConstantTimeCompare([]byte(pp.ATH), []byte(want)) != 1 {
			return nil, ErrDPoPWrongAccessToken
		}
	}
	if req.Nonce != "" && subtle.ConstantTimeCompare([]byte(pp.Nonce), []byte(req.Nonce)) != 1 {
		return nil, ErrUseDPoPNonce
	}
	if req.NonceValid != nil && (pp.Nonce == "" || !req.NonceValid(pp.Nonce)) {
		return nil, ErrUseDPoPNonce
	}
	return &Proof{JKT: pp.JKT, JTI: pp.JTI, Alg: pp.Alg, IssuedAt: pp.IssuedAt, Nonce: pp.Nonce}, nil
}

// Admit claims p's jti in the replay cache for as long as the proof could
// still be accepted. The cache key is a hash of the key thumbprint and the
// jti, so its length is fixed whatever the client sent.
func (pc *ProofChecker) Admit(ctx context.Context, p *Proof) error {
	h := sha256.Sum256([]byte(p.JKT + "\n" + p.JTI))
	until := p.IssuedAt.Add(pc.cfg.MaxAge + pc.cfg.Skew)
	if min := pc.cfg.Now().Add(pc.cfg.Skew); until.Before(min) {
		until = min
	}
	ok, err := pc.cfg.Replay.Claim(ctx, "dpop:"+base64.RawURLEncoding.EncodeToString(h[:]), until)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrDPoPReplayUnavailable, err)
	}
	if !ok {
		return ErrDPoPReplayed
	}
	return nil
}

// ParsedProof is a proof whose structure and signature hold; the claims
// are not yet compared with any request.
type ParsedProof struct {
	Alg      string
	JKT      string
	JTI      string
	Method   string
	HTU      string
	IssuedAt time.Time
	ATH      string
	Nonce    string
}

type proofHeader struct {
	Alg string
	Typ string
	JWK json.RawMessage
}

type proofClaims struct {
	JTI   string
	HTM   string
	HTU   string
	IAT   *json.Number
	ATH   string
	Nonce string
}

// ParseProof checks a proof's structure, header (typ, alg, a public jwk)
// and signature, and reads its claims (RFC 9449 §4.3 items 1-7). It is the
// parser of untrusted input that the fuzz target covers; it never panics.
func ParseProof(raw string) (*ParsedProof, error) {
	if raw == "" {
		return nil, ErrDPoPProofMissing
	}
	if len(raw) > DefaultMaxProofBytes*4 {
		return nil, ErrDPoPProofTooLarge
	}
	dot1 := strings.IndexByte(raw, '.')
	if dot1 <= 0 || strings.Count(raw, ".") != 2 {
		return nil, ErrDPoPMalformed
	}
	hb, err := base64.RawURLEncoding.DecodeString(raw[:dot1])
	if err != nil {
		return nil, ErrDPoPMalformed
	}
	var h proofHeader
	if err := decodeObject(hb, func(name string, dec *json.Decoder) error {
		switch name {
		case "alg":
			return dec.Decode(&h.Alg)
		case "typ":
			return dec.Decode(&h.Typ)
		case "jwk":
			return dec.Decode(&h.JWK)
		}
		return skipValue(dec)
	}); err != nil {
		return nil, ErrDPoPMalformed
	}
	// typ is compared exactly: RFC 9449 §4.2 names it "dpop+jwt", and the
	// media-type form would only widen what a proof may look like.
	if h.Typ != ProofType {
		return nil, ErrDPoPWrongType
	}
	key, err := proofKey(h.Alg, h.JWK)
	if err != nil {
		return nil, err
	}
	body, err := verifyProof(raw, h.Alg, key)
	if err != nil {
		return nil, err
	}
	var c proofClaims
	if err := decodeObject(body, func(name string, dec *json.Decoder) error {
		switch name {
		case "jti":
			return dec.Decode(&c.JTI)
		case "htm":
			return dec.Decode(&c.HTM)
		case "htu":
			return dec.Decode(&c.HTU)
		case "iat":
			dec.UseNumber()
			return dec.Decode(&c.IAT)
		case "ath":
			return dec.Decode(&c.ATH)
		case "nonce":
			return dec.Decode(&c.Nonce)
		}
		return skipValue(dec)
	}); err != nil {
		return nil, ErrDPoPMalformed
	}
	if c.JTI == "" || len(c.JTI) > maxJTIBytes || c.HTM == "" || c.HTU == "" || c.IAT == nil {
		return nil, ErrDPoPMissingClaim
	}
	iat, err := c.IAT.Int64()
	if err != nil || iat < 0 || iat > 1<<40 {
		return nil, ErrDPoPMalformed
	}
	tp, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, ErrDPoPBadKey
	}
	return &ParsedProof{Alg: h.Alg, JKT: base64.RawURLEncoding.EncodeToString(tp), JTI: c.JTI, Method: c.HTM, HTU: c.HTU,
		IssuedAt: time.Unix(iat, 0), ATH: c.ATH, Nonce: c.Nonce}, nil
}

// verifyProof checks the signature and returns the payload. ES256 goes
// through go-jose. EdDSA and RFC 9864's "Ed25519" are one signature over
// the same input, checked with the standard library on the key go-jose
// parsed: parsing the compact JWS again (and its jwk with it) would cost
// as much as the header checks above, on every request.
func verifyProof(raw, alg string, key *jose.JSONWebKey) ([]byte, error) {
	if alg == string(jose.ES256) {
		jws, err := jose.ParseSignedCompact(raw, dpopJoseAlgs)
		if err != nil || len(jws.Signatures) != 1 {
			return nil, ErrDPoPMalformed
		}
		body, err := jws.Verify(key)
		if err != nil {
			return nil, ErrDPoPBadSignature
		}
		return body, nil
	}
	pub, ok := key.Key.(ed25519.PublicKey)
	dot1, dot2 := strings.IndexByte(raw, '.'), strings.LastIndexByte(raw, '.')
	if !ok || dot1 < 0 || dot2 <= dot1 {
		return nil, ErrDPoPMalformed
	}
	sig, err := base64.RawURLEncoding.DecodeString(raw[dot2+1:])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, ErrDPoPBadSignature
	}
	if !ed25519.Verify(pub, []byte(raw[:dot2]), sig) {
		return nil, ErrDPoPBadSignature
	}
	body, err := base64.RawURLEncoding.DecodeString(raw[dot1+1 : dot2])
	if err != nil {
		return nil, ErrDPoPMalformed
	}
	return body, nil
}

// proofKey reads the jwk header: a public key of the type alg needs,
// nothing private (RFC 9449 §4.3 items 5-6).
func proofKey(alg string, raw json.RawMessage) (*jose.JSONWebKey, error) {
	var kty, crv string
	switch alg {
	case string(jose.EdDSA), algEd25519:
		kty, crv = "OKP", "Ed25519"
	case string(jose.ES256):
		kty, crv = "EC", "P-256"
	default:
		return nil, ErrDPoPUnsupportedAlg
	}
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, ErrDPoPBadKey
	}
	// One pass for the type and any member of private or symmetric key
	// material (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2); go-jose then
	// builds (and checks) the public key.
	var m struct {
		Kty, Crv                    string
		D, P, Q, DP, DQ, QI, Oth, K json.RawMessage
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, ErrDPoPBadKey
	}
	if m.D != nil || m.P != nil || m.Q != nil || m.DP != nil || m.DQ != nil || m.QI != nil || m.Oth != nil || m.K != nil {
		return nil, ErrDPoPBadKey
	}
	if m.Kty != kty || m.Crv != crv {
		return nil, ErrDPoPBadKey
	}
	var key jose.JSONWebKey
	if err := key.UnmarshalJSON(raw); err != nil || !key.Valid() || !key.IsPublic() {
		return nil, ErrDPoPBadKey
	}
	return &key, nil
}

// AccessTokenHash is a proof's ath for token: base64url(SHA-256(token))
// (RFC 9449 §4.2).
func AccessTokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// SameHTU reports whether a proof's htu names the request URI, both
// normalised per RFC 3986 §6.2.2-6.2.3 (scheme and host case, default
// port, empty path, percent-encoding) and without query and fragment
// (RFC 9449 §4.3 item 9).
func SameHTU(htu, requestURI string) bool {
	a, ok := normalizeHTU(htu)
	if !ok {
		return false
	}
	b, ok := normalizeHTU(requestURI)
	return ok && a == b
}

func normalizeHTU(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Opaque != "" || u.Host == "" || u.User != nil {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	// u.Path is decoded; re-encoding it turns %7E and ~ (and upper- or
	// lower-case escapes) into one form. An encoded slash stays distinct.
	path := u.EscapedPath()
	if u.RawPath != "" {
		path = normalizeEscapes(u.RawPath)
	}
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, true
}

// normalizeEscapes decodes escapes of unreserved characters and upper-cases
// the rest (RFC 3986 §6.2.2.1-6.2.2.2).
func normalizeEscapes(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) {
			if v, err := hexByte(p[i+1], p[i+2]); err == nil {
				if isUnreserved(v) {
					b.WriteByte(v)
				} else {
					b.WriteByte('%')
					b.WriteString(strings.ToUpper(p[i+1 : i+3]))
				}
				i += 2
				continue
			}
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

func hexByte(h, l byte) (byte, error) {
	v := func(c byte) (byte, bool) {
		switch {
		case '0' <= c && c <= '9':
			return c - '0', true
		case 'a' <= c && c <= 'f':
			return c - 'a' + 10, true
		case 'A' <= c && c <= 'F':
			return c - 'A' + 10, true
		}
		return 0, false
	}
	hi, ok1 := v(h)
	lo, ok2 := v(l)
	if !ok1 || !ok2 {
		return 0, errors.New("not hex")
	}
	return hi<<4 | lo, nil
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}
