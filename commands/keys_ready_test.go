package commands_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/secrets/local"
)

func TestCheckSigningKeys(t *testing.T) {
	ctx := context.Background()
	meta := commands.Metadata{Actor: "test"}
	t.Run("a provider holding the active and next keys passes", func(t *testing.T) {
		f := newFixture(t)
		_, _ = f.keys.Tick(ctx, meta)
		p := f.keys.Policy()
		f.clock.Add(p.RotationInterval - p.PublicationLead)
		if res, err := f.keys.Tick(ctx, meta); err != nil || res.Published == "" {
			t.Fatalf("tick = %+v, %v", res, err)
		}
		if err := commands.CheckSigningKeys(ctx, f.secrets, f.ring(t).Keys()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a provider that lost the active key fails, naming the key", func(t *testing.T) {
		f := newFixture(t)
		res, _ := f.keys.Tick(ctx, meta)
		a, _ := f.ring(t).Active()
		if err := f.secrets.Delete(ctx, a.Secret.Name); err != nil {
			t.Fatal(err)
		}
		err := commands.CheckSigningKeys(ctx, f.secrets, f.ring(t).Keys())
		if !errors.Is(err, commands.ErrSigningKeyUnreadable) || !strings.Contains(err.Error(), res.Published) {
			t.Fatalf("CheckSigningKeys = %v, want ErrSigningKeyUnreadable naming %s", err, res.Published)
		}
	})
	t.Run("another instance's provider, without the ledger's keys, fails", func(t *testing.T) {
		f := newFixture(t)
		_, _ = f.keys.Tick(ctx, meta)
		other, err := local.Open(t.TempDir(), local.Options{MasterKey: make([]byte, 32)})
		if err != nil {
			t.Fatal(err)
		}
		if err := commands.CheckSigningKeys(ctx, other, f.ring(t).Keys()); !errors.Is(err, commands.ErrSigningKeyUnreadable) {
			t.Fatalf("CheckSigningKeys = %v, want ErrSigningKeyUnreadable", err)
		}
	})
	t.Run("other material under the key's name is a mismatch, not a key", func(t *testing.T) {
		f := newFixture(t)
		_, _ = f.keys.Tick(ctx, meta)
		a, _ := f.ring(t).Active()
		other, err := local.Open(t.TempDir(), local.Options{MasterKey: make([]byte, 32)})
		if err != nil {
			t.Fatal(err)
		}
		for v := 1; ; v++ {
			ver, err := other.Put(ctx, a.Secret.Name, make([]byte, 32))
			if err != nil {
				t.Fatal(err)
			}
			if ver == a.Secret.Version || v > 8 {
				break
			}
		}
		if err := commands.CheckSigningKeys(ctx, other, f.ring(t).Keys()); !errors.Is(err, commands.ErrKeyMismatch) {
			t.Fatalf("CheckSigningKeys = %v, want ErrKeyMismatch", err)
		}
	})
}
