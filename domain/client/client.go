package client

import (
	"slices"
	"strings"
	"time"
)

// ID identifies a client; it is the client_id on the wire and the sub of
// its tokens.
type ID string

// IDPrefix starts every client id authledger issues.
const IDPrefix = "svc-"

// InIDNamespace reports whether s lies in the client-id namespace: it starts
// with IDPrefix, in any letter case. Session subjects never do, so no
// user's sub can equal a client's sub (the client id of its M2M tokens),
// and no API can take one for the other (RFC 9068 §5).
func InIDNamespace(s string) bool {
	return len(s) >= len(IDPrefix) && strings.EqualFold(s[:len(IDPrefix)], IDPrefix)
}

// StreamPrefix starts every client stream.
const StreamPrefix = "client-"

// Stream is the ledger stream of client id.
func Stream(id ID) string { return StreamPrefix + string(id) }

// MaxIDLen bounds client ids, names, scopes and audiences alike.
const MaxIDLen = 128

// ValidID reports whether s may be a client id: unreserved URI characters
// only (RFC 3986 §2.3), so it survives Basic auth, form encoding and URLs
// unchanged.
func ValidID(s string) bool {
	if s == "" || len(s) > MaxIDLen {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' || r == '~') {
			return false
		}
	}
	return true
}

// ValidScope reports whether s is a scope-token of RFC 6749 §3.3.
func ValidScope(s string) bool {
	if s == "" || len(s) > MaxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}

func validAudience(s string) bool {
	return s != "" && len(s) <= 2*MaxIDLen && !strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f })
}

// View is a client's current state. Read models hold Views; authentication
// decides on them.
type View struct {
	ID           ID          `json:"client_id"`
	Name         string      `json:"name"`
	Scopes       []string    `json:"scopes"`
	Audiences    []string    `json:"audiences"`
	Secrets      []Secret    `json:"secrets"`
	Keys         []PublicKey `json:"keys"`
	Disabled     bool        `json:"disabled"`
	RegisteredAt time.Time   `json:"registered_at"`
	// RateLimit is the registered request budget (nil: the defaults).
	RateLimit *RateLimit `json:"rate_limit,omitempty"`
	// Version is the stream version this view reflects.
	Version uint64 `json:"version"`
	// DPoPBound: every token request must carry a DPoP proof
	// (dpop_bound_access_tokens, RFC 9449 §5.2).
	DPoPBound bool `json:"dpop_bound_access_tokens,omitempty"`
	// DPoPNonce: its proofs must carry a server nonce (RFC 9449 §8).
	DPoPNonce bool `json:"dpop_nonce_required,omitempty"`
}

// Clone returns a deep copy, so a read model can hand views out while it
// keeps folding events.
func (v View) Clone() View {
	v.Scopes = slices.Clone(v.Scopes)
	v.Audiences = slices.Clone(v.Audiences)
	v.Secrets = slices.Clone(v.Secrets)
	v.Keys = slices.Clone(v.Keys)
	if v.RateLimit != nil {
		rl := *v.RateLimit
		v.RateLimit = &rl
	}
	return v
}

// SecretMatches reports whether presented is a live secret of the client
// at now, under the scheme each stored hash names (v2 keyed by pepper, or
// legacy v1). Both hashes of presented are computed, every live secret is
// compared in constant time and the loop never exits early, so timing says
// nothing about which secret, or which scheme, almost matched. A zero
// pepper matches no v2 secret: fail closed.
func (v View) SecretMatches(presented string, pepper Pepper, now time.Time) bool {
	if v.Disabled || presented == "" {
		return false
	}
	h1, h2 := HashSecretV1(presented), pepper.Hash(presented)
	ok := false
	for _, s := range v.Secrets {
		want := h1
		if strings.HasPrefix(s.Hash, secretHashV2Prefix) {
			want = h2
		}
		if want != "" && constantTimeHashMatch(want, s.Hash) && s.LiveAt(now) {
			ok = true
		}
	}
	return ok
}

// Key returns the registered public key with kid.
func (v View) Key(kid string) (PublicKey, bool) {
	for _, k := range v.Keys {
		if k.KeyID == kid {
			return k, true
		}
	}
	return PublicKey{}, false
}

// GrantScopes checks a request against the granted scopes (RFC 6749 §3.3).
// No request means every granted scope.
func (v View) GrantScopes(requested []string) ([]string, error) {
	if len(requested) == 0 {
		return slices.Clone(v.Scopes), nil
	}
	out := make([]string, 0, len(requested))
	for _, s := range requested {
		if !slices.Contains(v.Scopes, s) {
			return nil, ErrScopeNotAllowed
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// GrantAudiences checks requested audiences (RFC 8707 resource / audience)
// against the allowed ones. The issuer is always allowed: authledger's own
// APIs accept tokens whose aud holds it, and a client that asks for no
// audience gets its registered audiences plus the issuer (DESIGN.md §5).
func (v View) GrantAudiences(requested []string, issuer string) ([]string, error) {
	if len(requested) == 0 {
		out := slices.Clone(v.Audiences)
		if !slices.Contains(out, issuer) {
			out = append(out, issuer)
		}
		return out, nil
	}
	out := make([]string, 0, len(requested))
	for _, a := range requested {
		if a != issuer && !slices.Contains(v.Audiences, a) {
			return nil, ErrAudienceNotAllowed
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// Client is the aggregate: a View being changed by commands. Methods
// decide, record pending events and apply them; errors mean "cannot act"
// and record nothing.
type Client struct {
	id      ID
	v       View
	pending []Event
}

// Load folds client id's stream events (in version order); with no events
// it is a client not registered yet.
func Load(id ID, events []Event) *Client {
	c := &Client{id: id}
	for _, e := range events {
		c.v.apply(e)
		c.v.Version++
	}
	return c
}

// Stream is the client's ledger stream.
func (c *Client) Stream() string { return Stream(c.id) }

// View returns a copy of the current state, pending events included.
func (c *Client) View() View { return c.v.Clone() }

// Version is the stream version loaded from the ledger, before pending.
func (c *Client) Version() uint64 { return c.v.Version - uint64(len(c.pending)) }

// Pending returns the events decided since Load.
func (c *Client) Pending() []Event { return slices.Clone(c.pending) }

func (c *Client) record(e Event) {
	c.v.apply(e)
	c.v.Version++
	c.pending = append(c.pending, e)
}

// Fold applies one stored event to a view; read models use it.
func (v *View) Fold(e Event) {
	v.apply(e)
	v.Version++
}

func (v *View) apply(e Event) {
	switch e := e.(type) {
	case Registered:
		v.ID, v.Name, v.RegisteredAt, v.DPoPBound, v.DPoPNonce = e.Client, e.Name, e.At, e.DPoPBound, e.DPoPNonce
		v.Scopes, v.Audiences = slices.Clone(e.Scopes), slices.Clone(e.Audiences)
		v.RateLimit = e.RateLimit
	case SecretAdded:
		v.Secrets = append(v.Secrets, Secret{ID: e.SecretID, Hash: e.Hash, AddedAt: e.At})
	case SecretRotated:
		for i := range v.Secrets {
			s := &v.Secrets[i]
			if s.Until.IsZero() || s.Until.After(e.PreviousUntil) {
				s.Until = e.PreviousUntil
			}
		}
		v.Secrets = append(v.Secrets, Secret{ID: e.SecretID, Hash: e.Hash, AddedAt: e.At})
	case SecretRevoked:
		for i := range v.Secrets {
			if v.Secrets[i].ID == e.SecretID {
				v.Secrets[i].Revoked = true
			}
		}
	case KeyAdded:
		v.Keys = append(v.Keys, e.Key)
	case KeyRemoved:
		v.Keys = slices.DeleteFunc(v.Keys, func(k PublicKey) bool { return k.KeyID == e.KeyID })
	case ScopesChanged:
		v.Scopes = slices.Clone(e.Scopes)
	case AudiencesChanged:
		v.Audiences = slices.Clone(e.Audiences)
	case Disabled:
		v.Disabled = true
	}
}

// NewSecret is a freshly generated secret, given to the aggregate by its
// v2 hash (Pepper.Hash); a v1 hash is refused with ErrInvalidSecretHash.
type NewSecret struct {
	ID   string
	Hash string
}

func (s NewSecret) validate() error {
	if !ValidID(s.ID) || !validNewHash(s.Hash) {
		return ErrInvalidSecretHash
	}
	return nil
}

// Registration is what Register needs. At least one credential: a secret
// or a public key.
type Registration struct {
	ID        ID
	Name      string
	Scopes    []string
	Audiences []string
	Secret    *NewSecret
	Keys      []PublicKey
	// RateLimit is the client's own request budget; nil keeps the
	// service's defaults.
	RateLimit *RateLimit
	// DPoPBound requires DPoP on every token request (RFC 9449 §5.2).
	DPoPBound bool
	// DPoPNonce requires a server nonce in its proofs (RFC 9449 §8).
	DPoPNonce bool
}

func checkScopes(scopes []string) error {
	for _, s := range scopes {
		if !ValidScope(s) {
			return ErrInvalidScope
		}
	}
	return nil
}

func checkAudiences(auds []string) error {
	for _, a := range auds {
		if !validAudience(a) {
			return ErrInvalidAudience
		}
	}
	return nil
}

func dedupe(s []string) []string {
	out := make([]string, 0, len(s))
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// Register starts the client.
func (c *Client) Register(r Registration, now time.Time) error {
	if c.v.Version > 0 {
		return ErrAlreadyRegistered
	}
	if !ValidID(string(r.ID)) || (c.id != "" && r.ID != c.id) {
		return ErrInvalidID
	}
	if strings.TrimSpace(r.Name) == "" || len(r.Name) > MaxIDLen || strings.ContainsAny(r.Name, "\n\r") {
		return ErrInvalidName
	}
	if err := checkScopes(r.Scopes); err != nil {
		return err
	}
	if err := checkAudiences(r.Audiences); err != nil {
		return err
	}
	if r.Secret == nil && len(r.Keys) == 0 {
		return ErrNoCredential
	}
	if r.RateLimit != nil {
		if err := r.RateLimit.Validate(); err != nil {
			return err
		}
	}
	if r.Secret != nil {
		if err := r.Secret.validate(); err != nil {
			return err
		}
	}
	if len(r.Keys) > MaxKeys {
		return ErrTooManyKeys
	}
	seen := map[string]bool{}
	for _, k := range r.Keys {
		if err := k.Validate(); err != nil {
			return err
		}
		if k.KeyID == "" || seen[k.KeyID] {
			return ErrDuplicateKey
		}
		seen[k.KeyID] = true
	}
	now = now.UTC()
	scopes, auds := dedupe(r.Scopes), dedupe(r.Audiences)
	c.record(Registered{Client: r.ID, Name: r.Name, Scopes: scopes, Audiences: auds, Privileged: PrivilegesOf(scopes, auds), RateLimit: r.RateLimit, DPoPBound: r.DPoPBound, DPoPNonce: r.DPoPNonce, At: now})
	if r.Secret != nil {
		c.record(SecretAdded{SecretID: r.Secret.ID, Hash: r.Secret.Hash, At: now})
	}
	for _, k := range r.Keys {
		c.record(KeyAdded{Key: k, At: now})
	}
	return nil
}

func (c *Client) mutable() error {
	if c.v.Version == 0 {
		return ErrNotRegistered
	}
	if c.v.Disabled {
		return ErrDisabled
	}
	return nil
}

// RotateSecret adds s and keeps every older secret valid for window more
// (zero window ends them now). A client with only keys gains its first
// secret this way.
func (c *Client) RotateSecret(s NewSecret, window time.Duration, now time.Time) error {
	if err := c.mutable(); err != nil {
		return err
	}
	if err := s.validate(); err != nil {
		return err
	}
	if window < 0 {
		window = 0
	}
	now = now.UTC()
	c.record(SecretRotated{SecretID: s.ID, Hash: s.Hash, PreviousUntil: now.Add(window), At: now})
	return nil
}

// RevokeSecret ends one secret now, unless it is the last credential.
func (c *Client) RevokeSecret(id string, now time.Time) error {
	if err := c.mutable(); err != nil {
		return err
	}
	idx := slices.IndexFunc(c.v.Secrets, func(s Secret) bool { return s.ID == id && !s.Revoked })
	if idx < 0 {
		return ErrUnknownSecret
	}
	if len(c.v.Keys) == 0 && c.liveSecrets(now) <= 1 && c.v.Secrets[idx].LiveAt(now) {
		return ErrLastCredential
	}
	c.record(SecretRevoked{SecretID: id, At: now.UTC()})
	return nil
}

func (c *Client) liveSecrets(now time.Time) int {
	n := 0
	for _, s := range c.v.Secrets {
		if s.LiveAt(now) {
			n++
		}
	}
	return n
}

// AddKey registers a public key for private_key_jwt.
func (c *Client) AddKey(k PublicKey, now time.Time) error {
	if err := c.mutable(); err != nil {
		return err
	}
	if k.KeyID == "" {
		k.KeyID = k.Thumbprint()
	}
	if err := k.Validate(); err != nil {
		return err
	}
	if _, dup := c.v.Key(k.KeyID); dup {
		return ErrDuplicateKey
	}
	if len(c.v.Keys) >= MaxKeys {
		return ErrTooManyKeys
	}
	c.record(KeyAdded{Key: k, At: now.UTC()})
	return nil
}

// RemoveKey withdraws a key, unless it is the last credential.
func (c *Client) RemoveKey(kid string, now time.Time) error {
	if err := c.mutable(); err != nil {
		return err
	}
	if _, ok := c.v.Key(kid); !ok {
		return ErrUnknownKey
	}
	if len(c.v.Keys) == 1 && c.liveSecrets(now) == 0 {
		return ErrLastCredential
	}
	c.record(KeyRemoved{KeyID: kid, At: now.UTC()})
	return nil
}

// ChangeScopes replaces the grantable scopes.
func (c *Client) ChangeScopes(scopes []string, now time.Time) error {
	if err := c.mutable(); err != nil {
		return err
	}
	if err := checkScopes(scopes); err != nil {
		return err
	}
	scopes = dedupe(scopes)
	c.record(ScopesChanged{Scopes: scopes, Privileged: PrivilegesOf(scopes, nil).Scopes, At: now.UTC()})
	return nil
}

// ChangeAudiences replaces the allowed audiences.
func (c *Client) ChangeAudiences(auds []string, now time.Time) error {
	if err := c.mutable(); err != nil {
		return err
	}
	if err := checkAudiences(auds); err != nil {
		return err
	}
	auds = dedupe(auds)
	c.record(AudiencesChanged{Audiences: auds, Privileged: PrivilegesOf(nil, auds).Audiences, At: now.UTC()})
	return nil
}

// Disable stops the client for good, and revokes every token naming it
// until the last one has expired (Disabled.AccessUntil). Disabling twice
// is a no-op, so a retried operator command does not fail.
func (c *Client) Disable(reason string, now time.Time) error {
	if c.v.Version == 0 {
		return ErrNotRegistered
	}
	if c.v.Disabled {
		return nil
	}
	if len(reason) > 512 {
		reason = reason[:512]
	}
	now = now.UTC()
	c.record(Disabled{Reason: reason, At: now, AccessUntil: now.Add(TokenHorizon())})
	return nil
}

// CheckDPoP is the client's rule for a token request that presented the
// DPoP key jkt ("" for none): a client registered with
// dpop_bound_access_tokens gets no bearer token (RFC 9449 §5.2).
func (v View) CheckDPoP(jkt string) error {
	if v.DPoPBound && jkt == "" {
		return ErrDPoPRequired
	}
	return nil
}
