// Package keysourcetest is the contract every verifier.KeySource passes:
// the static KeySet, the Remote JWKS cache, and authledger's in-process
// JWKS read model. Each adapter's test calls Run with a factory. It imports
// nothing outside client/, so a resource server can run it on a KeySource
// of its own too.
package keysourcetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authledger/authledger/client/verifier"
)

// Wait bounds how long a source may take to serve a key added at the
// issuer.
const Wait = 5 * time.Second

// Fixture is one source and what its issuer holds.
type Fixture struct {
	// Source is the KeySource under test.
	Source verifier.KeySource
	// Keys are the private halves of at least two keys Source vouches
	// for, by kid.
	Keys map[string]ed25519.PrivateKey
	// Revoked are kids of keys the issuer revoked; Source must not serve
	// them. Empty where the adapter cannot revoke.
	Revoked []string
	// AddKey, where the issuer can add keys, publishes a new one after
	// Source has served the first ones and returns it; Source must serve
	// it within Wait. Nil for a fixed set.
	AddKey func(t *testing.T) (kid string, priv ed25519.PrivateKey)
}

// Factory builds a fresh fixture for one test and registers its cleanup.
type Factory func(t *testing.T) Fixture

// Run runs the contract against the fixtures newFixture builds.
func Run(t *testing.T, newFixture Factory) {
	t.Run("a known kid gives the key that verifies its signatures", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		if len(f.Keys) < 2 {
			t.Fatalf("the fixture holds %d keys; the contract needs two to tell them apart", len(f.Keys))
		}
		for kid, priv := range f.Keys {
			checkServes(t, f.Source, kid, priv)
		}
	})
	t.Run("an unknown kid is ErrUnknownKey and no key", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		var some string
		for kid := range f.Keys {
			some = kid
			break
		}
		for _, kid := range []string{"no-such-kid", strings.ToUpper(some), some + "x", some[:len(some)-1]} {
			if _, known := f.Keys[kid]; known {
				continue
			}
			k, err := f.Source.Key(context.Background(), kid)
			if !errors.Is(err, verifier.ErrUnknownKey) {
				t.Errorf("Key(%q) err = %v, want ErrUnknownKey", kid, err)
			}
			if k != nil {
				t.Errorf("Key(%q) returned a key with its error", kid)
			}
		}
	})
	t.Run("a revoked kid is refused with a typed error", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		if len(f.Revoked) == 0 {
			t.Skip("the adapter cannot revoke a key")
		}
		for _, kid := range f.Revoked {
			k, err := f.Source.Key(context.Background(), kid)
			if !errors.Is(err, verifier.ErrKeyRevoked) && !errors.Is(err, verifier.ErrUnknownKey) {
				t.Errorf("Key(%q) err = %v, want ErrKeyRevoked or ErrUnknownKey", kid, err)
			}
			if k != nil {
				t.Errorf("Key(%q) returned a revoked key", kid)
			}
		}
		// The keys still in force are unaffected.
		for kid, priv := range f.Keys {
			checkServes(t, f.Source, kid, priv)
		}
	})
	t.Run("concurrent lookups agree", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		var wg sync.WaitGroup
		errs := make(chan error, 8*(len(f.Keys)+1))
		for range 8 {
			for kid, priv := range f.Keys {
				wg.Go(func() {
					k, err := f.Source.Key(context.Background(), kid)
					if err != nil || !bytes.Equal(k, priv.Public().(ed25519.PublicKey)) {
						errs <- errors.New("a concurrent lookup of " + kid + " did not give its key")
					}
				})
			}
			wg.Go(func() {
				if _, err := f.Source.Key(context.Background(), "no-such-kid"); !errors.Is(err, verifier.ErrUnknownKey) {
					errs <- errors.New("a concurrent lookup of an unknown kid did not fail with ErrUnknownKey")
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
	t.Run("a key the issuer adds is served", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		if f.AddKey == nil {
			t.Skip("a fixed set")
		}
		for kid, priv := range f.Keys {
			checkServes(t, f.Source, kid, priv)
		}
		kid, priv := f.AddKey(t)
		deadline := time.Now().Add(Wait)
		for {
			k, err := f.Source.Key(context.Background(), kid)
			if err == nil {
				if !bytes.Equal(k, priv.Public().(ed25519.PublicKey)) {
					t.Fatalf("the added kid %s gives another key", kid)
				}
				break
			}
			if !errors.Is(err, verifier.ErrUnknownKey) {
				t.Fatalf("Key(%q) err = %v while the key propagates, want ErrUnknownKey", kid, err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("the added key %s was not served within %s", kid, Wait)
			}
			time.Sleep(10 * time.Millisecond)
		}
		for kid, priv := range f.Keys {
			checkServes(t, f.Source, kid, priv)
		}
	})
}

// checkServes fails t unless source gives kid's public key, checked both
// byte for byte and by verifying a signature priv makes.
func checkServes(t *testing.T, source verifier.KeySource, kid string, priv ed25519.PrivateKey) {
	t.Helper()
	k, err := source.Key(context.Background(), kid)
	if err != nil {
		t.Fatalf("Key(%q): %v", kid, err)
	}
	if !bytes.Equal(k, priv.Public().(ed25519.PublicKey)) {
		t.Fatalf("Key(%q) is another key", kid)
	}
	msg := []byte("keysourcetest " + kid)
	if !ed25519.Verify(k, msg, ed25519.Sign(priv, msg)) {
		t.Fatalf("Key(%q) does not verify its own signature", kid)
	}
}
