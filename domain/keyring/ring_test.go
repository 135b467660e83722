package keyring_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/authledger/authledger/domain/event"
	"github.com/authledger/authledger/domain/keyring"
)

var t0 = time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)

func newKey(t *testing.T, kid string) keyring.NewKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return keyring.NewKey{
		JWK:    keyring.PublicJWK{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub), Kid: kid, Use: "sig", Alg: "EdDSA"},
		Secret: keyring.SecretRef{Name: "signing-key/" + kid, Version: "1"},
	}
}

// given replays events as if loaded from the ledger.
func given(t *testing.T, events ...keyring.Event) *keyring.Ring {
	t.Helper()
	decoded := make([]keyring.Event, 0, len(events))
	for _, e := range events {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		d, err := keyring.Decode(e.EventType(), b)
		if err != nil {
			t.Fatal(err)
		}
		decoded = append(decoded, d)
	}
	return keyring.Load(decoded)
}

func published(t *testing.T, kid string, at, activateAt time.Time) keyring.KeyPublished {
	k := newKey(t, kid)
	return keyring.KeyPublished{KID: kid, JWK: k.JWK, Secret: k.Secret, At: at, ActivateAt: activateAt}
}

func types(es []keyring.Event) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.EventType())
	}
	return out
}

func TestRing(t *testing.T) {
	p := keyring.DefaultPolicy()
	a := published(t, "a", t0, t0)
	tests := []struct {
		name      string
		given     []keyring.Event
		when      func(t *testing.T, r *keyring.Ring) error
		wantErr   error
		wantTypes []string
		check     func(t *testing.T, r *keyring.Ring)
	}{
		{
			name:      "the first key of an empty ring is activated at once",
			when:      func(t *testing.T, r *keyring.Ring) error { return r.Rotate(newKey(t, "a"), t0, p, false) },
			wantTypes: []string{keyring.TypeKeyPublished, keyring.TypeKeyActivated},
			check: func(t *testing.T, r *keyring.Ring) {
				if k, ok := r.Active(); !ok || k.KID != "a" {
					t.Fatalf("active = %+v, %v", k, ok)
				}
			},
		},
		{
			name:  "an ordinary rotation publishes the next key and activates it after the lead",
			given: []keyring.Event{a, keyring.KeyActivated{KID: "a", At: t0}},
			when: func(t *testing.T, r *keyring.Ring) error {
				return r.Rotate(newKey(t, "b"), t0.Add(time.Hour), p, false)
			},
			wantTypes: []string{keyring.TypeKeyPublished},
			check: func(t *testing.T, r *keyring.Ring) {
				n, ok := r.Next()
				if !ok || !n.ActivateAt.Equal(t0.Add(time.Hour+p.PublicationLead)) {
					t.Fatalf("next = %+v", n)
				}
				if k, _ := r.Active(); k.KID != "a" {
					t.Fatalf("active changed to %s before the lead", k.KID)
				}
				if got := len(r.Published()); got != 2 {
					t.Fatalf("JWKS holds %d keys, want 2", got)
				}
			},
		},
		{
			name:    "a second ordinary rotation is refused while a next key waits",
			given:   []keyring.Event{a, keyring.KeyActivated{KID: "a", At: t0}, published(t, "b", t0, t0.Add(p.PublicationLead))},
			when:    func(t *testing.T, r *keyring.Ring) error { return r.Rotate(newKey(t, "c"), t0, p, false) },
			wantErr: keyring.ErrRotationPending,
		},
		{
			name:  "an immediate rotation activates at once, retires the active key and drops the pending one",
			given: []keyring.Event{a, keyring.KeyActivated{KID: "a", At: t0}, published(t, "b", t0, t0.Add(p.PublicationLead))},
			when: func(t *testing.T, r *keyring.Ring) error {
				return r.Rotate(newKey(t, "c"), t0.Add(time.Minute), p, true)
			},
			wantTypes: []string{keyring.TypeKeyPublished, keyring.TypeKeyDropped, keyring.TypeKeyRetired, keyring.TypeKeyActivated},
			check: func(t *testing.T, r *keyring.Ring) {
				old, _ := r.Key("a")
				if old.State != keyring.StateRetired || !old.DropAt.Equal(t0.Add(time.Minute+p.RetirementTail)) {
					t.Fatalf("old key = %+v", old)
				}
				if k, _ := r.Active(); k.KID != "c" {
					t.Fatalf("active = %s", k.KID)
				}
			},
		},
		{
			name:    "a duplicate kid is refused",
			given:   []keyring.Event{a, keyring.KeyActivated{KID: "a", At: t0}},
			when:    func(t *testing.T, r *keyring.Ring) error { return r.Rotate(newKey(t, "a"), t0, p, true) },
			wantErr: keyring.ErrDuplicateKey,
		},
		{
			name: "a key that is not Ed25519 is refused",
			when: func(t *testing.T, r *keyring.Ring) error {
				k := newKey(t, "a")
				k.JWK.Crv = "P-256"
				return r.Rotate(k, t0, p, false)
			},
			wantErr: keyring.ErrInvalidKey,
		},
		{
			name:  "advancing before the lead has passed records nothing",
			given: []keyring.Event{a, keyring.KeyActivated{KID: "a", At: t0}, published(t, "b", t0, t0.Add(p.PublicationLead))},
			when: func(t *testing.T, r *keyring.Ring) error {
				r.Advance(t0.Add(p.PublicationLead-time.Second), p)
				return nil
			},
			wantTypes: nil,
		},
		{
			name:      "advancing after the lead activates the next key and retires the old one",
			given:     []keyring.Event{a, keyring.KeyActivated{KID: "a", At: t0}, published(t, "b", t0, t0.Add(p.PublicationLead))},
			when:      func(t *testing.T, r *keyring.Ring) error { r.Advance(t0.Add(p.PublicationLead), p); return nil },
			wantTypes: []string{keyring.TypeKeyRetired, keyring.TypeKeyActivated},
		},
		{
			name: "advancing after the retirement tail drops the retired key",
			given: []keyring.Event{a, keyring.KeyActivated{KID: "a", At: t0}, published(t, "b", t0, t0),
				keyring.KeyRetired{KID: "a", At: t0, DropAt: t0.Add(p.RetirementTail)}, keyring.KeyActivated{KID: "b", At: t0}},
			when:      func(t *testing.T, r *keyring.Ring) error { r.Advance(t0.Add(p.RetirementTail), p); return nil },
			wantTypes: []string{keyring.TypeKeyDropped},
			check: func(t *testing.T, r *keyring.Ring) {
				if got := r.Published(); len(got) != 1 || got[0].KID != "b" {
					t.Fatalf("published = %+v", got)
				}
			},
		},
		{
			name:      "revoking the active key removes it from the JWKS and leaves no signing key",
			given:     []keyring.Event{a, keyring.KeyActivated{KID: "a", At: t0}},
			when:      func(t *testing.T, r *keyring.Ring) error { return r.Revoke("a", t0, "compromised") },
			wantTypes: []string{keyring.TypeKeyRevoked},
			check: func(t *testing.T, r *keyring.Ring) {
				if _, ok := r.Active(); ok {
					t.Fatal("a revoked key still signs")
				}
				if len(r.Published()) != 0 {
					t.Fatal("a revoked key is still published")
				}
			},
		},
		{
			name:    "revoking an unknown kid fails",
			when:    func(t *testing.T, r *keyring.Ring) error { return r.Revoke("nope", t0, "") },
			wantErr: keyring.ErrUnknownKey,
		},
		{
			name:    "revoking twice fails",
			given:   []keyring.Event{a, keyring.KeyRevoked{KID: "a", At: t0}},
			when:    func(t *testing.T, r *keyring.Ring) error { return r.Revoke("a", t0, "") },
			wantErr: keyring.ErrKeyRevoked,
		},
		{
			name:    "a dropped key cannot be revoked",
			given:   []keyring.Event{a, keyring.KeyDropped{KID: "a", At: t0}},
			when:    func(t *testing.T, r *keyring.Ring) error { return r.Revoke("a", t0, "") },
			wantErr: keyring.ErrKeyDropped,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := given(t, tt.given...)
			v := r.Version()
			err := tt.when(t, r)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got := types(r.Pending()); !reflect.DeepEqual(got, tt.wantTypes) {
				t.Fatalf("pending = %v, want %v", got, tt.wantTypes)
			}
			if r.Version() != v {
				t.Fatal("deciding changed the loaded version")
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestNeedsRotation(t *testing.T) {
	p := keyring.DefaultPolicy()
	active := []keyring.Event{published(t, "a", t0, t0), keyring.KeyActivated{KID: "a", At: t0}}
	due := t0.Add(p.RotationInterval - p.PublicationLead)
	tests := []struct {
		name  string
		given []keyring.Event
		now   time.Time
		want  bool
	}{
		{"an empty ring needs a key", nil, t0, true},
		{"a fresh active key needs nothing", active, t0.Add(time.Hour), false},
		{"the successor is due one lead before the interval ends", active, due, true},
		{"a waiting next key means no new rotation", append(active, published(t, "b", due, due.Add(p.PublicationLead))), due.Add(time.Minute), false},
		{"a ring whose only key was revoked needs a key", []keyring.Event{published(t, "a", t0, t0), keyring.KeyRevoked{KID: "a", At: t0}}, t0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := given(t, tt.given...).NeedsRotation(tt.now, p); got != tt.want {
				t.Fatalf("NeedsRotation = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReplayRejectsUnknownTypes(t *testing.T) {
	_, err := keyring.Decode("keyring.key_exploded.v1", json.RawMessage(`{}`))
	if !errors.Is(err, keyring.ErrUnknownEvent) || !errors.Is(err, event.ErrUnknownType) {
		t.Fatalf("err = %v", err)
	}
	if keyring.Knows("keyring.key_exploded.v1") || !keyring.Knows(keyring.TypeKeyRevoked) {
		t.Fatal("Knows does not follow the codec")
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(p *keyring.Policy)
		ok     bool
	}{
		{"the defaults are valid", func(*keyring.Policy) {}, true},
		{"a lead shorter than max-age plus skew is refused", func(p *keyring.Policy) { p.PublicationLead = p.JWKSMaxAge }, false},
		{"a tail shorter than the longest token is refused", func(p *keyring.Policy) { p.RetirementTail = 10 * time.Minute }, false},
		{"an interval not longer than the lead is refused", func(p *keyring.Policy) { p.RotationInterval = p.PublicationLead }, false},
		{"a negative skew is refused", func(p *keyring.Policy) { p.ClockSkew = -time.Second }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := keyring.DefaultPolicy()
			tt.change(&p)
			err := p.Validate()
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, keyring.ErrInvalidPolicy)) {
				t.Fatalf("Validate = %v", err)
			}
		})
	}
	if d := keyring.DefaultPolicy(); d.RotationInterval != 24*time.Hour || d.RetirementTail != 31*time.Minute {
		t.Fatalf("defaults = %+v", d)
	}
}
