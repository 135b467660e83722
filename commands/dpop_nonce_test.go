package commands_test

import (
	"context"
	"testing"
	"time"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/secrets/local"
)

func TestDPoPNoncesAreSharedByInstancesAndExpire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sp, err := local.Open(t.TempDir(), local.Options{MasterKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 30, 0, time.UTC)
	clock := func() time.Time { return now }
	a, err := commands.LoadDPoPNonces(ctx, sp, clock, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := commands.LoadDPoPNonces(ctx, sp, clock, nil) // a second instance, same provider
	if err != nil {
		t.Fatal(err)
	}
	other, _ := local.Open(t.TempDir(), local.Options{MasterKey: make([]byte, 32)})
	stranger, _ := commands.LoadDPoPNonces(ctx, other, clock, nil)
	n := a.Current()
	cases := []struct {
		name  string
		check func() bool
		want  bool
	}{
		{"the issuing instance accepts its nonce", func() bool { return a.Valid(n) }, true},
		{"another instance accepts it", func() bool { return b.Valid(n) }, true},
		{"a server with another key refuses it", func() bool { return stranger.Valid(n) }, false},
		{"a forged nonce is refused", func() bool { return a.Valid(n[:len(n)-2] + "AA") }, false},
		{"the empty nonce is refused", func() bool { return a.Valid("") }, false},
		{"it holds in the next window", func() bool { now = now.Add(commands.DPoPNonceWindow); return a.Valid(n) }, true},
		{"it is gone two windows later", func() bool { now = now.Add(commands.DPoPNonceWindow); return a.Valid(n) }, false},
	}
	for _, tc := range cases { // in order: the clock moves
		if got := tc.check(); got != tc.want {
			t.Fatalf("%s: got %v", tc.name, got)
		}
	}
}
