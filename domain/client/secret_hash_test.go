package client_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/authledger/authledger/domain/client"
)

func TestNewSecretsAreStoredAsPepperedHashes(t *testing.T) {
	t.Parallel()
	c := client.Load("svc-a", nil)
	if err := c.Register(client.Registration{ID: "svc-a", Name: "a", Secret: secret("s1", "pw")}, t0); err != nil {
		t.Fatal(err)
	}
	added := c.Pending()[1].(client.SecretAdded)
	plain := sha256.Sum256([]byte("pw"))
	if added.Hash == hex.EncodeToString(plain[:]) || !strings.HasPrefix(added.Hash, "v2:") || len(added.Hash) != 3+64 {
		t.Fatalf("stored hash %q: want v2:<HMAC>, never the plain SHA-256", added.Hash)
	}
	other := mustPepper("another deployment's pepper, 32 bytes")
	if other.Hash("pw") == added.Hash {
		t.Fatal("the hash does not depend on the pepper")
	}
}

func TestAV1HashIsRefusedForANewSecret(t *testing.T) {
	t.Parallel()
	v1 := &client.NewSecret{ID: "s1", Hash: client.HashSecretV1("pw")}
	if err := client.Load("svc-a", nil).Register(client.Registration{ID: "svc-a", Name: "a", Secret: v1}, t0); !errors.Is(err, client.ErrInvalidSecretHash) {
		t.Fatalf("register with a v1 hash: %v", err)
	}
	c := client.Load("svc-a", registered(t))
	if err := c.RotateSecret(*v1, 0, t0); !errors.Is(err, client.ErrInvalidSecretHash) {
		t.Fatalf("rotate to a v1 hash: %v", err)
	}
	for _, h := range []string{"v2:" + strings.Repeat("A", 64), "v2:" + strings.Repeat("0", 63), "v3:" + strings.Repeat("0", 64), ""} {
		if err := c.RotateSecret(client.NewSecret{ID: "s2", Hash: h}, 0, t0); !errors.Is(err, client.ErrInvalidSecretHash) {
			t.Fatalf("rotate to %q: %v", h, err)
		}
	}
}

// A client registered before v2: its ledger holds a v1 hash, which keeps
// verifying, beside a v2 secret after a rotation, until the window ends.
func TestBothSchemesVerifyAndRefuseWrongSecrets(t *testing.T) {
	t.Parallel()
	old, err := client.Decode(client.TypeSecretAdded, []byte(`{"secret_id":"s1","hash":"`+client.HashSecretV1("old secret")+`","at":"2026-01-02T03:04:05Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	given := []client.Event{client.Registered{Client: "svc-a", Name: "a", At: t0}, old}
	c := client.Load("svc-a", given)
	if err := c.RotateSecret(client.NewSecret{ID: "s2", Hash: testPepper.Hash("new secret")}, time.Hour, t0); err != nil {
		t.Fatal(err)
	}
	v := replayed(t, given, c)
	zero := client.Pepper{}
	other := mustPepper("another deployment's pepper, 32 bytes")
	for _, tc := range []struct {
		name   string
		secret string
		pepper client.Pepper
		at     time.Time
		ok     bool
	}{
		{"the v1 secret verifies inside the window", "old secret", testPepper, t0.Add(59 * time.Minute), true},
		{"the v1 secret verifies without a pepper", "old secret", zero, t0, true},
		{"the v1 secret ends with the rotation window", "old secret", testPepper, t0.Add(time.Hour), false},
		{"a wrong secret fails against v1", "old secreT", testPepper, t0, false},
		{"the v2 secret verifies", "new secret", testPepper, t0.Add(1000 * time.Hour), true},
		{"a wrong secret fails against v2", "new secreT", testPepper, t0, false},
		{"the v2 secret fails under another pepper", "new secret", other, t0, false},
		{"the v2 secret fails without a pepper", "new secret", zero, t0, false},
		{"the v2 hash itself is no secret", testPepper.Hash("new secret"), testPepper, t0, false},
		{"the v1 hash itself is no secret", client.HashSecretV1("old secret"), testPepper, t0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := v.SecretMatches(tc.secret, tc.pepper, tc.at); got != tc.ok {
				t.Fatalf("SecretMatches = %v, want %v", got, tc.ok)
			}
		})
	}
}

func TestAPepperNeverPrints(t *testing.T) {
	t.Parallel()
	key := "a pepper that must not be printed!!"
	p := mustPepper(key)
	for _, s := range []string{fmt.Sprint(p), fmt.Sprintf("%v %+v %#v %s %x %q", p, p, p, p, p, p)} {
		if strings.Contains(s, key) || strings.Contains(s, hex.EncodeToString([]byte(key))) {
			t.Fatalf("printed %q", s)
		}
	}
	if _, err := client.NewPepper(make([]byte, 31)); !errors.Is(err, client.ErrInvalidPepper) {
		t.Fatalf("a 31-byte pepper: %v", err)
	}
}
