package keyring

import (
	"github.com/authledger/authledger/domain/event"

	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// State is where a key is in its life cycle.
type State string

const (
	StatePublished State = "published" // in the JWKS, not signing yet
	StateActive    State = "active"    // signing
	StateRetired   State = "retired"   // in the JWKS until DropAt
	StateDropped   State = "dropped"   // gone from the JWKS
	StateRevoked   State = "revoked"   // gone from the JWKS, its tokens invalid
)

// Key is one key of the ring as the ledger knows it.
type Key struct {
	KID         string
	JWK         PublicJWK
	Secret      SecretRef
	State       State
	PublishedAt time.Time
	ActivateAt  time.Time
	ActivatedAt time.Time
	RetiredAt   time.Time
	DropAt      time.Time
	EndedAt     time.Time // dropped or revoked
}

// InJWKS reports whether verifiers must see the key.
func (k Key) InJWKS() bool {
	return k.State == StatePublished || k.State == StateActive || k.State == StateRetired
}

// Ring is the key ring aggregate. Load it from decoded events, call a
// decision method, then take Pending and append them at Version.
type Ring struct {
	version uint64
	keys    []Key // in publication order
	index   map[string]int
	pending []Event
}

// Load folds the keyring stream's events (in version order); with no events
// it is an empty ring (stream version 0).
func Load(events []Event) *Ring {
	r := &Ring{index: map[string]int{}}
	for _, e := range events {
		r.Fold(e)
	}
	return r
}

// Stream is the ring's ledger stream.
func (r *Ring) Stream() string { return Stream }

// Version is the stream version the ring was loaded at, the expected version
// of the next append.
func (r *Ring) Version() uint64 { return r.version }

// Pending returns the events decided since loading.
func (r *Ring) Pending() []Event { return r.pending }

// Keys returns every key in publication order.
func (r *Ring) Keys() []Key { return append([]Key(nil), r.keys...) }

// Key returns the key kid.
func (r *Ring) Key(kid string) (Key, bool) {
	i, ok := r.index[kid]
	if !ok {
		return Key{}, false
	}
	return r.keys[i], true
}

// Active returns the signing key.
func (r *Ring) Active() (Key, bool) {
	for i := len(r.keys) - 1; i >= 0; i-- {
		if r.keys[i].State == StateActive {
			return r.keys[i], true
		}
	}
	return Key{}, false
}

// Next returns the published key waiting for activation, if any.
func (r *Ring) Next() (Key, bool) {
	for i := len(r.keys) - 1; i >= 0; i-- {
		if r.keys[i].State == StatePublished {
			return r.keys[i], true
		}
	}
	return Key{}, false
}

// Published returns the keys a JWKS must hold, sorted by kid so the
// serialized set is stable.
func (r *Ring) Published() []Key {
	var out []Key
	for _, k := range r.keys {
		if k.InJWKS() {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].KID < out[j].KID })
	return out
}

// Fold applies one committed event and advances the version: what a read
// model that follows the keyring stream calls for each decoded record.
func (r *Ring) Fold(e Event) {
	r.apply(e)
	r.version++
}

// Decode turns a stored event into its newest shape. The codec is strict:
// an unknown type fails with ErrUnknownEvent (and event.ErrUnknownType),
// because a skipped key event would leave a key usable that the ledger
// retired or revoked.
func Decode(typ string, data json.RawMessage) (Event, error) { return codec.Decode(typ, data) }

// Knows reports whether typ is a stored keyring type Decode decodes (a
// current name or an old one with an upcaster), so a reader of the whole
// ledger picks the keyring's events without failing on everyone else's.
func Knows(typ string) bool { return codec.Knows(typ) }

var codec = event.NewCodec[Event]("keyring", event.Strict(ErrUnknownEvent),
	event.Register[KeyPublished](),
	event.Register[KeyActivated](),
	event.Register[KeyRetired](),
	event.Register[KeyDropped](),
	event.Register[KeyRevoked](),
)

// apply folds an event into the state. Events for unknown kids are ignored
// so that a damaged stream degrades to "key not published" (fail closed).
func (r *Ring) apply(e Event) {
	at := func(kid string) *Key {
		if i, ok := r.index[kid]; ok {
			return &r.keys[i]
		}
		return nil
	}
	switch e := e.(type) {
	case KeyPublished:
		if _, dup := r.index[e.KID]; dup {
			return
		}
		r.index[e.KID] = len(r.keys)
		r.keys = append(r.keys, Key{KID: e.KID, JWK: e.JWK, Secret: e.Secret, State: StatePublished, PublishedAt: e.At, ActivateAt: e.ActivateAt})
	case KeyActivated:
		if k := at(e.KID); k != nil && k.State == StatePublished {
			k.State, k.ActivatedAt = StateActive, e.At
		}
	case KeyRetired:
		if k := at(e.KID); k != nil && (k.State == StateActive || k.State == StatePublished) {
			k.State, k.RetiredAt, k.DropAt = StateRetired, e.At, e.DropAt
		}
	case KeyDropped:
		if k := at(e.KID); k != nil && k.State != StateRevoked {
			k.State, k.EndedAt = StateDropped, e.At
		}
	case KeyRevoked:
		if k := at(e.KID); k != nil {
			k.State, k.EndedAt = StateRevoked, e.At
		}
	}
}

func (r *Ring) record(e Event) {
	r.apply(e)
	r.pending = append(r.pending, e)
}

// NewKey is a freshly generated key: its public JWK and where its private
// half was stored.
type NewKey struct {
	JWK    PublicJWK
	Secret SecretRef
}

func (n NewKey) validate() error {
	x, err := base64.RawURLEncoding.DecodeString(n.JWK.X)
	switch {
	case n.JWK.Kid == "" || len(n.JWK.Kid) > 64:
		return fmt.Errorf("%w: kid must have 1 to 64 characters", ErrInvalidKey)
	case n.JWK.Kty != "OKP" || n.JWK.Crv != "Ed25519" || n.JWK.Alg != "EdDSA" || n.JWK.Use != "sig":
		return fmt.Errorf("%w: want an OKP Ed25519 EdDSA signing JWK", ErrInvalidKey)
	case err != nil || len(x) != 32:
		return fmt.Errorf("%w: x must be 32 bytes of base64url", ErrInvalidKey)
	case n.Secret.Name == "" || n.Secret.Version == "":
		return fmt.Errorf("%w: secret reference missing", ErrInvalidKey)
	}
	return nil
}

// NeedsRotation reports whether a new key should be published now: the ring
// has no key that signs or will sign, or the active key's successor is due
// within the publication lead.
func (r *Ring) NeedsRotation(now time.Time, p Policy) bool {
	if _, ok := r.Next(); ok {
		return false
	}
	act, ok := r.Active()
	if !ok {
		return true
	}
	return !now.Before(act.ActivatedAt.Add(p.RotationInterval - p.PublicationLead))
}

// Rotate publishes k. An ordinary rotation activates it after the
// publication lead; immediately activates it at once, retires the active
// key and drops a pending key (an emergency after a compromise). An empty
// ring activates its first key at once: no verifier can hold an older set.
func (r *Ring) Rotate(k NewKey, now time.Time, p Policy, immediately bool) error {
	if err := k.validate(); err != nil {
		return err
	}
	if _, dup := r.index[k.JWK.Kid]; dup {
		return fmt.Errorf("%w: %s", ErrDuplicateKey, k.JWK.Kid)
	}
	_, hasActive := r.Active()
	next, hasNext := r.Next()
	if hasNext && !immediately {
		return fmt.Errorf("%w: %s activates at %s", ErrRotationPending, next.KID, next.ActivateAt.UTC().Format(time.RFC3339))
	}
	activateAt := now.Add(p.PublicationLead)
	if immediately || !hasActive {
		activateAt = now
	}
	r.record(KeyPublished{KID: k.JWK.Kid, JWK: k.JWK, Secret: k.Secret, At: now, ActivateAt: activateAt})
	if activateAt.Equal(now) {
		if hasNext {
			r.record(KeyDropped{KID: next.KID, At: now})
		}
		r.activate(k.JWK.Kid, now, p)
	}
	return nil
}

// activate makes kid the signing key and retires the one it replaces.
func (r *Ring) activate(kid string, now time.Time, p Policy) {
	if old, ok := r.Active(); ok {
		r.record(KeyRetired{KID: old.KID, At: now, DropAt: now.Add(p.RetirementTail)})
	}
	r.record(KeyActivated{KID: kid, At: now})
}

// Advance does what time asks for: activates a published key whose lead has
// passed, and drops retired keys whose tail has passed. It records nothing
// when nothing is due.
func (r *Ring) Advance(now time.Time, p Policy) {
	if next, ok := r.Next(); ok && !now.Before(next.ActivateAt) {
		r.activate(next.KID, now, p)
	}
	for _, k := range r.keys {
		if k.State == StateRetired && !now.Before(k.DropAt) {
			r.record(KeyDropped{KID: k.KID, At: now})
		}
	}
}

// Revoke takes kid out of the JWKS at once. If it was the active key the
// ring is left without a signing key; the caller rotates immediately in the
// same append so signing resumes with a fresh key.
func (r *Ring) Revoke(kid string, now time.Time, reason string) error {
	k, ok := r.Key(kid)
	switch {
	case !ok:
		return fmt.Errorf("%w: %s", ErrUnknownKey, kid)
	case k.State == StateRevoked:
		return fmt.Errorf("%w: %s", ErrKeyRevoked, kid)
	case k.State == StateDropped:
		return fmt.Errorf("%w: %s", ErrKeyDropped, kid)
	}
	r.record(KeyRevoked{KID: kid, At: now, Reason: reason})
	return nil
}
