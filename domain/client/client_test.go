package client_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/domain/event"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

var testPepper = mustPepper("pepper for the domain tests, 32+ bytes")

func mustPepper(s string) client.Pepper {
	p, err := client.NewPepper([]byte(s))
	if err != nil {
		panic(err)
	}
	return p
}

func newKey(t *testing.T) client.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k := client.PublicKey{KTY: "OKP", CRV: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub)}
	k.KeyID = k.Thumbprint()
	return k
}

func secret(id, s string) *client.NewSecret {
	return &client.NewSecret{ID: id, Hash: testPepper.Hash(s)}
}

func registered(t *testing.T) []client.Event {
	t.Helper()
	c := client.Load("svc-a", nil)
	if err := c.Register(client.Registration{ID: "svc-a", Name: "billing", Scopes: []string{"read", "write"}, Audiences: []string{"https://api.example"}, Secret: secret("s1", "first")}, t0); err != nil {
		t.Fatal(err)
	}
	return c.Pending()
}

func TestRegister(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	cases := []struct {
		name  string
		given []client.Event
		reg   client.Registration
		want  []string
		err   error
	}{
		{"a client with a secret records registration and the secret hash",
			nil, client.Registration{ID: "svc-a", Name: "a", Scopes: []string{"x"}, Secret: secret("s1", "pw")},
			[]string{client.TypeRegistered, client.TypeSecretAdded}, nil},
		{"a client with only a key records the key",
			nil, client.Registration{ID: "svc-a", Name: "a", Keys: []client.PublicKey{key}},
			[]string{client.TypeRegistered, client.TypeKeyAdded}, nil},
		{"a client without any credential is refused",
			nil, client.Registration{ID: "svc-a", Name: "a"}, nil, client.ErrNoCredential},
		{"a client id with a colon is refused",
			nil, client.Registration{ID: "svc:a", Name: "a", Secret: secret("s1", "pw")}, nil, client.ErrInvalidID},
		{"a scope with a space is refused",
			nil, client.Registration{ID: "svc-a", Name: "a", Scopes: []string{"a b"}, Secret: secret("s1", "pw")}, nil, client.ErrInvalidScope},
		{"an empty name is refused",
			nil, client.Registration{ID: "svc-a", Name: " ", Secret: secret("s1", "pw")}, nil, client.ErrInvalidName},
		{"a malformed secret hash is refused",
			nil, client.Registration{ID: "svc-a", Name: "a", Secret: &client.NewSecret{ID: "s1", Hash: "nothex"}}, nil, client.ErrInvalidSecretHash},
		{"registering twice is refused",
			registered(t), client.Registration{ID: "svc-a", Name: "a", Secret: secret("s1", "pw")}, nil, client.ErrAlreadyRegistered},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := client.Load(tc.reg.ID, tc.given)
			err := c.Register(tc.reg, t0)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if got := types(c.Pending()); !equal(got, tc.want) {
				t.Fatalf("pending = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEventsNeverHoldTheSecret(t *testing.T) {
	t.Parallel()
	for _, e := range registered(t) {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if contains(string(b), `"first"`) {
			t.Fatalf("event %s holds the secret: %s", e.EventType(), b)
		}
	}
}

func TestSecretRotationKeepsTheOldSecretForTheWindow(t *testing.T) {
	t.Parallel()
	given := registered(t)
	c := client.Load("svc-a", given)
	if err := c.RotateSecret(client.NewSecret{ID: "s2", Hash: testPepper.Hash("second")}, 10*time.Minute, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	v := replayed(t, given, c)
	if v.Version != 3 || c.Version() != 2 {
		t.Fatalf("versions: view %d, loaded %d", v.Version, c.Version())
	}
	cases := []struct {
		name   string
		secret string
		at     time.Time
		ok     bool
	}{
		{"the old secret works inside the window", "first", t0.Add(time.Hour + 9*time.Minute), true},
		{"the old secret fails after the window", "first", t0.Add(time.Hour + 10*time.Minute), false},
		{"the new secret works at once", "second", t0.Add(time.Hour), true},
		{"the new secret works long after", "second", t0.Add(1000 * time.Hour), true},
		{"a wrong secret fails", "third", t0.Add(time.Hour), false},
		{"an empty secret fails", "", t0.Add(time.Hour), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := v.SecretMatches(tc.secret, testPepper, tc.at); got != tc.ok {
				t.Fatalf("SecretMatches = %v, want %v", got, tc.ok)
			}
		})
	}
}

// replayed round-trips given and pending events through JSON, as the
// ledger does, and folds them into a view.
func replayed(t *testing.T, given []client.Event, c *client.Client) client.View {
	t.Helper()
	var v client.View
	for _, e := range append(given, c.Pending()...) {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		d, err := client.Decode(e.EventType(), b)
		if err != nil {
			t.Fatal(err)
		}
		v.Fold(d)
	}
	return v
}

func TestDisabledClientFailsEveryCredential(t *testing.T) {
	t.Parallel()
	c := client.Load("svc-a", registered(t))
	if err := c.Disable("compromised", t0); err != nil {
		t.Fatal(err)
	}
	if c.View().SecretMatches("first", testPepper, t0) {
		t.Fatal("a disabled client's secret still matches")
	}
	if err := c.RotateSecret(client.NewSecret{ID: "s2", Hash: testPepper.Hash("x")}, 0, t0); !errors.Is(err, client.ErrDisabled) {
		t.Fatalf("rotate after disable: %v", err)
	}
	if err := c.Disable("again", t0); err != nil {
		t.Fatalf("disabling twice: %v", err)
	}
	if got := types(c.Pending()); !equal(got, []string{client.TypeDisabled}) {
		t.Fatalf("pending = %v", got)
	}
}

func TestCredentialChanges(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	cases := []struct {
		name string
		do   func(c *client.Client) error
		want []string
		err  error
	}{
		{"revoking the only credential is refused",
			func(c *client.Client) error { return c.RevokeSecret("s1", t0) }, nil, client.ErrLastCredential},
		{"revoking an unknown secret is refused",
			func(c *client.Client) error { return c.RevokeSecret("nope", t0) }, nil, client.ErrUnknownSecret},
		{"a key can be added and the secret then revoked",
			func(c *client.Client) error {
				if err := c.AddKey(key, t0); err != nil {
					return err
				}
				return c.RevokeSecret("s1", t0)
			}, []string{client.TypeKeyAdded, client.TypeSecretRevoked}, nil},
		{"the same key twice is refused",
			func(c *client.Client) error {
				if err := c.AddKey(key, t0); err != nil {
					return err
				}
				return c.AddKey(key, t0)
			}, []string{client.TypeKeyAdded}, client.ErrDuplicateKey},
		{"removing an unknown key is refused",
			func(c *client.Client) error { return c.RemoveKey("nope", t0) }, nil, client.ErrUnknownKey},
		{"scopes can be changed",
			func(c *client.Client) error { return c.ChangeScopes([]string{"read"}, t0) }, []string{client.TypeScopesChanged}, nil},
		{"audiences can be changed",
			func(c *client.Client) error { return c.ChangeAudiences([]string{"b"}, t0) }, []string{client.TypeAudiencesChanged}, nil},
		{"an unregistered client cannot rotate",
			func(c *client.Client) error {
				return client.Load("svc-a", nil).RotateSecret(client.NewSecret{ID: "s", Hash: testPepper.Hash("x")}, 0, t0)
			}, nil, client.ErrNotRegistered},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := client.Load("svc-a", registered(t))
			if err := tc.do(c); !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if got := types(c.Pending()); !equal(got, tc.want) {
				t.Fatalf("pending = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestGrants(t *testing.T) {
	t.Parallel()
	v := client.Load("svc-a", registered(t)).View()
	const iss = "https://issuer.example"
	cases := []struct {
		name      string
		scopes    []string
		auds      []string
		wantScope []string
		wantAud   []string
		err       error
	}{
		{"no request grants every scope and the registered audiences plus the issuer", nil, nil,
			[]string{"read", "write"}, []string{"https://api.example", iss}, nil},
		{"a subset of scopes is granted", []string{"read"}, []string{"https://api.example"},
			[]string{"read"}, []string{"https://api.example"}, nil},
		{"the issuer may always be asked for", nil, []string{iss}, []string{"read", "write"}, []string{iss}, nil},
		{"a scope beyond the grant is refused", []string{"read", "admin"}, nil, nil, nil, client.ErrScopeNotAllowed},
		{"an audience beyond the allowed is refused", nil, []string{"https://other.example"}, nil, nil, client.ErrAudienceNotAllowed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc, err1 := v.GrantScopes(tc.scopes)
			au, err2 := v.GrantAudiences(tc.auds, iss)
			err := errors.Join(err1, err2)
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if tc.err == nil && (!equal(sc, tc.wantScope) || !equal(au, tc.wantAud)) {
				t.Fatalf("scopes %v aud %v, want %v %v", sc, au, tc.wantScope, tc.wantAud)
			}
		})
	}
}

func TestParseJWKs(t *testing.T) {
	t.Parallel()
	k := newKey(t)
	one := `{"kty":"OKP","crv":"Ed25519","x":"` + k.X + `"}`
	cases := []struct {
		name string
		in   string
		n    int
		err  error
	}{
		{"one public JWK is accepted and gets its thumbprint as kid", one, 1, nil},
		{"a JWK set is accepted", `{"keys":[` + one + `]}`, 1, nil},
		{"a private JWK is refused", `{"kty":"OKP","crv":"Ed25519","x":"` + k.X + `","d":"AAAA"}`, 0, client.ErrPrivateJWK},
		{"an RSA key is refused", `{"kty":"RSA","n":"AQAB","e":"AQAB"}`, 0, client.ErrInvalidJWK},
		{"a short x is refused", `{"kty":"OKP","crv":"Ed25519","x":"AAAA"}`, 0, client.ErrInvalidJWK},
		{"an empty set is refused", `{"keys":[]}`, 0, client.ErrInvalidJWK},
		{"a repeated kid is refused", `{"keys":[` + one + `,` + one + `]}`, 0, client.ErrDuplicateKey},
		{"an RS256 alg is refused", `{"kty":"OKP","crv":"Ed25519","alg":"RS256","x":"` + k.X + `"}`, 0, client.ErrInvalidJWK},
		{"not JSON is refused", `nope`, 0, client.ErrInvalidJWK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			keys, err := client.ParseJWKs([]byte(tc.in))
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if len(keys) != tc.n {
				t.Fatalf("got %d keys, want %d", len(keys), tc.n)
			}
			if tc.n == 1 && keys[0].KeyID != k.Thumbprint() {
				t.Fatalf("kid = %q, want thumbprint", keys[0].KeyID)
			}
		})
	}
}

func FuzzParseJWKs(f *testing.F) {
	f.Add([]byte(`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := client.ParseJWKs(b)
		if err != nil {
			return
		}
		for _, k := range keys {
			if _, err := k.Ed25519(); err != nil {
				t.Fatalf("accepted an unusable key: %v", err)
			}
		}
	})
}

func types(es []client.Event) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.EventType())
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// The client codec is strict: skipping an unknown event could leave a
// revoked secret accepted.
func TestDecodeRefusesUnknownTypes(t *testing.T) {
	e, err := client.Decode("client.exploded.v1", []byte(`{}`))
	if e != nil || !errors.Is(err, client.ErrUnknownEvent) || !errors.Is(err, event.ErrUnknownType) {
		t.Fatalf("got %v, %v", e, err)
	}
}

func TestDisableRecordsWhenTheLastTokenOfTheClientExpires(t *testing.T) {
	t.Parallel()
	c := client.Load("svc-a", registered(t))
	if err := c.Disable("compromised", t0); err != nil {
		t.Fatal(err)
	}
	d, ok := c.Pending()[0].(client.Disabled)
	if !ok {
		t.Fatalf("pending = %v", c.Pending())
	}
	// A session the client started lives 12 h and mints 10-minute tokens.
	if want := t0.Add(12*time.Hour + 10*time.Minute); !d.AccessUntil.Equal(want) || !d.Until().Equal(want) {
		t.Fatalf("access_until = %v (Until %v), want %v", d.AccessUntil, d.Until(), want)
	}
	// An event recorded before access_until existed still bounds its tokens.
	old, err := client.Decode(client.TypeDisabled, []byte(`{"reason":"x","at":"2026-01-02T03:04:05Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := old.(client.Disabled).Until(); !got.Equal(t0.Add(client.TokenHorizon())) {
		t.Fatalf("old event Until = %v", got)
	}
}

func TestCheckDPoP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		bound bool
		jkt   string
		want  error
	}{
		{"a dpop_bound client with a proof", true, "jkt", nil},
		{"a dpop_bound client without a proof", true, "", client.ErrDPoPRequired},
		{"an ordinary client without a proof", false, "", nil},
		{"an ordinary client with a proof", false, "jkt", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := (client.View{DPoPBound: tc.bound}).CheckDPoP(tc.jkt); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}
