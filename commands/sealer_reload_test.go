package commands_test

import (
	"context"
	"testing"
	"time"

	cmds "github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/secrets/local"
)

func TestASealingKeyRotationReachesARunningSealer(t *testing.T) {
	ctx := context.Background()
	sp, err := local.Open(t.TempDir(), local.Options{MasterKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	load := func(ctx context.Context) (*refreshtoken.Codec, error) { return cmds.LoadRefreshCodec(ctx, sp, nil) }
	codec, err := load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sealer := cmds.NewRefreshSealer(codec, load)
	before := sealer.ActiveKeyID()
	old, err := sealer.Seal(refreshtoken.Claims{Family: refreshtoken.FamilyID{1}, Generation: 1, Token: refreshtoken.TokenID{2}, ExpiresAt: time.Now().Add(time.Hour).Truncate(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	h, err := cmds.NewSecretVersions(memstore.New(nil), sp, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.RotateSealingKey(ctx, cmds.Metadata{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := sealer.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if sealer.ActiveKeyID() == before {
		t.Fatal("new tokens are still sealed with the old key")
	}
	if _, err := sealer.Open(ctx, old); err != nil {
		t.Fatalf("a token sealed before the rotation no longer opens: %v", err)
	}
}
