package security_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/authledger/authledger/client/verifier"
	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/keyring"
)

func TestRotation(t *testing.T) {
	ctx := context.Background()
	t.Run("tokens signed before a rotation verify through the overlap", func(t *testing.T) {
		s := newStack(t)
		p := s.keys.Policy()
		s.clock.Add(p.RotationInterval - p.PublicationLead)
		pub := s.tick()
		if pub.Published == "" {
			t.Fatal("no key published")
		}
		old := s.sign() // still the old key: the new one is only published
		s.clock.Add(p.PublicationLead)
		if res := s.tick(); res.Activated != pub.Published {
			t.Fatalf("tick = %+v", res)
		}
		if old.KeyID == pub.Published {
			t.Fatal("the published key signed before its lead passed")
		}
		// The old token's whole remaining life falls inside the tail.
		s.clock.Add(p.MaxTokenLifetime - time.Second - p.PublicationLead)
		rv, _ := s.remote(s.srv.URL + "/.well-known/jwks.json")
		for name, v := range map[string]*verifier.Verifier{"in-process": s.local(), "remote": rv} {
			if _, err := v.Verify(ctx, old.Raw); err != nil {
				t.Fatalf("%s: old token: %v", name, err)
			}
		}
		fresh := s.sign()
		if fresh.KeyID != pub.Published {
			t.Fatalf("signed with %s, want the new key %s", fresh.KeyID, pub.Published)
		}
		if _, err := s.local().Verify(ctx, fresh.Raw); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a verifier that cached the JWKS before activation verifies the new key without refetching", func(t *testing.T) {
		s := newStack(t)
		p := s.keys.Policy()
		s.clock.Add(p.RotationInterval - p.PublicationLead)
		pub := s.tick()
		// The verifier refreshes at its own pace: here shortly before the
		// activation, within one max-age of it, as the lead guarantees.
		s.clock.Add(p.PublicationLead - p.JWKSMaxAge/2)
		v, remote := s.remote(s.srv.URL + "/.well-known/jwks.json")
		if _, err := v.Verify(ctx, s.sign().Raw); err != nil {
			t.Fatal(err)
		}
		fetches := remote.Fetches()
		s.clock.Add(p.JWKSMaxAge / 2)
		s.tick()
		fresh := s.sign()
		if fresh.KeyID != pub.Published {
			t.Fatalf("signed with %s", fresh.KeyID)
		}
		if _, err := v.Verify(ctx, fresh.Raw); err != nil {
			t.Fatal(err)
		}
		if remote.Fetches() != fetches {
			t.Fatalf("verifier refetched (%d → %d)", fetches, remote.Fetches())
		}
	})
	t.Run("a retired key leaves the JWKS after its tail, when its tokens have expired", func(t *testing.T) {
		s := newStack(t)
		p := s.keys.Policy()
		first, _ := s.model.ActiveKey()
		if _, err := s.keys.Rotate(ctx, commands.RotateKeys{Immediately: true}, commands.Metadata{}); err != nil {
			t.Fatal(err)
		}
		s.sync()
		if _, err := s.model.Key(ctx, first.KID); err != nil {
			t.Fatalf("retired key missing during its tail: %v", err)
		}
		s.clock.Add(p.RetirementTail)
		s.tick()
		if _, err := s.model.Key(ctx, first.KID); !errors.Is(err, verifier.ErrUnknownKey) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("two instances racing to rotate produce exactly one new key", func(t *testing.T) {
		s := newStack(t)
		p := s.keys.Policy()
		s.clock.Add(p.RotationInterval - p.PublicationLead)
		other, err := commands.NewKeys(commands.KeysConfig{Store: s.store, Secrets: s.sp, Now: s.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		results := make([]commands.TickResult, 2)
		for i, k := range []*commands.Keys{s.keys, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := k.Tick(ctx, commands.Metadata{})
				if err != nil {
					t.Error(err)
				}
				results[i] = res
			}()
		}
		wg.Wait()
		n := 0
		for _, r := range results {
			if r.Published != "" {
				n++
			}
		}
		ring, _ := s.keys.Load(ctx)
		pending := 0
		for _, k := range ring.Keys() {
			if k.State == keyring.StatePublished {
				pending++
			}
		}
		if n != 1 || pending != 1 {
			t.Fatalf("%d instances published, %d keys pending", n, pending)
		}
	})
}
