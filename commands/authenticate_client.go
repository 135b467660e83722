package commands

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/domain/oauth"
)

// ClientDirectory is where authentication reads a client's current state:
// the services read model, fed by the ledger on every instance.
type ClientDirectory interface {
	Client(ctx context.Context, id client.ID) (client.View, bool, error)
}

// LedgerClients is the directory authentication reads: dir (the services
// read model) and, for a client dir does not know yet (registered a moment
// ago by another instance or the CLI, not yet folded here), the client's
// own ledger stream, so a known client is never refused as unknown while
// the read model catches up. A miss costs one read of an empty stream.
func LedgerClients(dir ClientDirectory, clients *ClientRepository) ClientDirectory {
	return ledgerClients{dir: dir, clients: clients}
}

type ledgerClients struct {
	dir     ClientDirectory
	clients *ClientRepository
}

func (l ledgerClients) Client(ctx context.Context, id client.ID) (client.View, bool, error) {
	// A client with neither a secret nor a key is a registration the
	// registry has folded only in part (it applies the feed one record at
	// a time): no registration leaves a client without a credential, so
	// the ledger is asked rather than refusing the correct one.
	if v, ok, err := l.dir.Client(ctx, id); err != nil || (ok && (len(v.Secrets) > 0 || len(v.Keys) > 0 || v.Disabled)) {
		return v, ok, err
	}
	c, err := l.clients.Load(ctx, id)
	if err != nil {
		return client.View{}, false, err
	}
	if c.Version() == 0 {
		return client.View{}, false, nil
	}
	return c.View(), true, nil
}

// AssertionGuard admits each assertion id once within its lifetime, across
// instances when it is backed by Redis.
type AssertionGuard interface {
	Claim(ctx context.Context, key string, until time.Time) (bool, error)
}

// AuthMethod is a token-endpoint authentication method (RFC 8414 names).
type AuthMethod string

const (
	AuthSecretBasic   AuthMethod = "client_secret_basic"
	AuthSecretPost    AuthMethod = "client_secret_post"
	AuthPrivateKeyJWT AuthMethod = "private_key_jwt"
)

// ClientAssertionType is the only client_assertion_type accepted (RFC 7523 §2.2).
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// ClientCredentials is what a request presented. It holds a secret, so it
// redacts itself in logs.
type ClientCredentials struct {
	Method    AuthMethod
	ClientID  string
	Secret    string
	Assertion string
}

// LogValue never shows the secret or the assertion.
func (c ClientCredentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("method", string(c.Method)), slog.String("client_id", c.ClientID))
}

// AuthenticatedClient is a client that proved who it is for this request.
type AuthenticatedClient struct {
	ID     client.ID
	Method AuthMethod
	Client client.View
}

// ClientAuthConfig configures client authentication.
type ClientAuthConfig struct {
	// Directory is the services read model, usually behind LedgerClients
	// (required).
	Directory ClientDirectory
	// Pepper keys v2 secret hashes (required; LoadSecretPepper). Secrets
	// registered before v2 (plain SHA-256) verify without it.
	Pepper client.Pepper
	// Replay admits each private_key_jwt jti once (required).
	Replay AssertionGuard
	// Issuer is the authorization server's issuer identifier, exactly as
	// its metadata publishes it: the aud a private_key_jwt assertion must
	// carry, as a single string and nothing else
	// (draft-ietf-oauth-rfc7523bis, after the 2025 audience-injection
	// disclosures: an aud that merely contains us, or names an endpoint,
	// lets an assertion meant for another server be replayed here).
	// Required.
	Issuer string
	// TokenEndpointAudience, when set, is also accepted as aud (again a
	// single string only): the token endpoint URL, for clients written to
	// RFC 7523 §3's older wording. A compatibility switch, off by default
	// (AUTHLEDGER_ASSERTION_ACCEPT_TOKEN_ENDPOINT_AUD).
	TokenEndpointAudience string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxAssertionLifetime bounds exp - now; default and maximum 5 min.
	MaxAssertionLifetime time.Duration
	// Leeway absorbs clock skew on exp, nbf and iat; default 30 s.
	Leeway time.Duration
}

// ClientAuthenticator checks client credentials against the registry.
type ClientAuthenticator struct {
	cfg ClientAuthConfig
}

// NewClientAuthenticator validates cfg.
func NewClientAuthenticator(cfg ClientAuthConfig) (*ClientAuthenticator, error) {
	var errs []error
	if cfg.Directory == nil {
		errs = append(errs, errors.New("commands: client auth: Directory is required"))
	}
	if cfg.Replay == nil {
		errs = append(errs, errors.New("commands: client auth: Replay is required"))
	}
	if cfg.Pepper.IsZero() {
		errs = append(errs, errors.New("commands: client auth: Pepper is required"))
	}
	if cfg.Issuer == "" {
		errs = append(errs, errors.New("commands: client auth: Issuer is required"))
	}
	if cfg.MaxAssertionLifetime <= 0 || cfg.MaxAssertionLifetime > 5*time.Minute {
		cfg.MaxAssertionLifetime = 5 * time.Minute
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &ClientAuthenticator{cfg: cfg}, nil
}

// denied is the single answer to every failed authentication: the client
// learns nothing about which part failed; the reason reaches the log only.
func denied(reason string) error { return oauth.ErrInvalidClient.WithDebug(reason) }

// Authenticate checks cred against the client's current state.
func (a *ClientAuthenticator) Authenticate(ctx context.Context, cred ClientCredentials) (AuthenticatedClient, error) {
	switch cred.Method {
	case AuthSecretBasic, AuthSecretPost:
		return a.secret(ctx, cred)
	case AuthPrivateKeyJWT:
		return a.assertion(ctx, cred)
	default:
		return AuthenticatedClient{}, denied("no client authentication")
	}
}

func (a *ClientAuthenticator) lookup(ctx context.Context, id string) (client.View, error) {
	if !client.ValidID(id) {
		return client.View{}, denied("malformed client id")
	}
	v, ok, err := a.cfg.Directory.Client(ctx, client.ID(id))
	if err != nil {
		return client.View{}, oauth.ErrTemporarilyUnavail.WithDebug("client directory: " + err.Error())
	}
	if !ok {
		return client.View{}, denied("unknown client")
	}
	if v.Disabled {
		return client.View{}, denied("client disabled")
	}
	return v, nil
}

func (a *ClientAuthenticator) secret(ctx context.Context, cred ClientCredentials) (AuthenticatedClient, error) {
	v, err := a.lookup(ctx, cred.ClientID)
	if err != nil {
		// Compare anyway, so an unknown id costs the same as a wrong secret.
		(client.View{Secrets: []client.Secret{{Hash: a.cfg.Pepper.Hash("")}}}).SecretMatches(cred.Secret, a.cfg.Pepper, a.cfg.Now())
		return AuthenticatedClient{}, err
	}
	if !v.SecretMatches(cred.Secret, a.cfg.Pepper, a.cfg.Now()) {
		return AuthenticatedClient{}, denied("secret mismatch")
	}
	return AuthenticatedClient{ID: v.ID, Method: cred.Method, Client: v}, nil
}

// MaxAssertionBytes bounds an assertion before any parsing.
const MaxAssertionBytes = 8 << 10

type assertionHeader struct {
	Alg  string   `json:"alg"`
	Kid  string   `json:"kid"`
	Crit []string `json:"crit"`
}

// assertion verifies a private_key_jwt (RFC 7523 §3, OIDC Core §9):
// EdDSA only (and RFC 9864's "Ed25519"), iss = sub = client_id, aud the
// issuer as a single string (audienceOK), exp required and near, jti
// single-use.
func (a *ClientAuthenticator) assertion(ctx context.Context, cred ClientCredentials) (AuthenticatedClient, error) {
	raw := cred.Assertion
	if raw == "" || len(raw) > MaxAssertionBytes || strings.Count(raw, ".") != 2 {
		return AuthenticatedClient{}, denied("malformed assertion")
	}
	parts := strings.SplitN(raw, ".", 3)
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return AuthenticatedClient{}, denied("malformed assertion header")
	}
	var h assertionHeader
	if err := json.Unmarshal(hb, &h); err != nil || len(h.Crit) > 0 {
		return AuthenticatedClient{}, denied("malformed assertion header")
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return AuthenticatedClient{}, denied("malformed assertion payload")
	}
	var unverified jwt.Claims
	if err := json.Unmarshal(pb, &unverified); err != nil {
		return AuthenticatedClient{}, denied("malformed assertion payload")
	}
	id := unverified.Subject
	if cred.ClientID != "" && cred.ClientID != id {
		return AuthenticatedClient{}, denied("client_id differs from assertion sub")
	}
	v, err := a.lookup(ctx, id)
	if err != nil {
		return AuthenticatedClient{}, err
	}
	keys := v.Keys
	if h.Kid != "" {
		k, ok := v.Key(h.Kid)
		if !ok {
			return AuthenticatedClient{}, denied("unknown assertion kid")
		}
		keys = []client.PublicKey{k}
	}
	claims, aud, ok := verifyAssertion(raw, h.Alg, parts, keys)
	if !ok {
		return AuthenticatedClient{}, denied("assertion signature")
	}
	if !a.audienceOK(aud) {
		return AuthenticatedClient{}, denied("assertion aud is not the issuer as a single string")
	}
	now := a.cfg.Now()
	if claims.Expiry == nil || claims.ID == "" {
		return AuthenticatedClient{}, denied("assertion lacks exp or jti")
	}
	exp := claims.Expiry.Time()
	if exp.Sub(now) > a.cfg.MaxAssertionLifetime+a.cfg.Leeway {
		return AuthenticatedClient{}, denied("assertion exp too far ahead")
	}
	if err := claims.ValidateWithLeeway(jwt.Expected{Issuer: id, Subject: id, Time: now}, a.cfg.Leeway); err != nil {
		return AuthenticatedClient{}, denied("assertion claims: " + err.Error())
	}
	if len(claims.ID) > 256 {
		return AuthenticatedClient{}, denied("assertion jti too long")
	}
	first, err := a.cfg.Replay.Claim(ctx, id+"\x00"+claims.ID, exp.Add(a.cfg.Leeway))
	if err != nil {
		return AuthenticatedClient{}, oauth.ErrTemporarilyUnavail.WithDebug("replay guard: " + err.Error())
	}
	if !first {
		return AuthenticatedClient{}, denied("assertion replayed")
	}
	return AuthenticatedClient{ID: v.ID, Method: AuthPrivateKeyJWT, Client: v}, nil
}

// audienceOK reports whether a verified assertion's aud, as sent (raw
// JSON), is a single string naming the issuer, or the token endpoint when
// the compatibility switch is on. An array is refused even when it holds
// only the issuer: jwt.Audience would read it as a list and match any
// member, which is the audience injection RFC 7523bis closes.
func (a *ClientAuthenticator) audienceOK(raw json.RawMessage) bool {
	var aud string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &aud) != nil {
		return false
	}
	return aud == a.cfg.Issuer || (a.cfg.TokenEndpointAudience != "" && aud == a.cfg.TokenEndpointAudience)
}

// audClaim keeps aud as it was sent, beside the parsed claims.
type audClaim struct {
	Aud json.RawMessage `json:"aud"`
}

// verifyAssertion checks the signature with the pinned algorithms and
// returns the verified claims and aud as sent. go-jose knows "EdDSA";
// RFC 9864's fully specified "Ed25519" is the same Ed25519 signature over
// the same input, verified with the standard library.
func verifyAssertion(raw, alg string, parts []string, keys []client.PublicKey) (jwt.Claims, json.RawMessage, bool) {
	var claims jwt.Claims
	var aud audClaim
	switch alg {
	case string(jose.EdDSA):
		tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.EdDSA})
		if err != nil {
			return claims, nil, false
		}
		for _, k := range keys {
			pub, err := k.Ed25519()
			if err != nil {
				continue
			}
			if err := tok.Claims(pub, &claims, &aud); err == nil {
				return claims, aud.Aud, true
			}
		}
	case "Ed25519":
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil || len(sig) != ed25519.SignatureSize {
			return claims, nil, false
		}
		signed := []byte(parts[0] + "." + parts[1])
		for _, k := range keys {
			pub, err := k.Ed25519()
			if err != nil {
				continue
			}
			if ed25519.Verify(pub, signed, sig) {
				pb, _ := base64.RawURLEncoding.DecodeString(parts[1])
				if json.Unmarshal(pb, &claims) != nil || json.Unmarshal(pb, &aud) != nil {
					return claims, nil, false
				}
				return claims, aud.Aud, true
			}
		}
	}
	return claims, nil, false
}
