package services_test

import (
	"context"
	"testing"
	"time"

	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/postgres"
	"github.com/authledger/authledger/internal/pgtest"
	"github.com/authledger/authledger/readmodels/services"
)

// Two instances share a PostgreSQL ledger: a client disabled through one
// stops authenticating on the other as soon as its feed delivers the event
// (LISTEN/NOTIFY, not polling).
func TestADisableReachesEveryInstance(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dsn := pgtest.NewDatabase(t)
	open := func() eventstore.Store {
		s, err := postgres.Open(ctx, dsn, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	writer, reader := open(), open()
	reg := services.New()
	done := make(chan struct{})
	go func() { defer close(done); _ = reg.Follow(ctx, reader) }()
	defer func() { cancel(); <-done }()

	now := time.Now()
	pos := appendClient(t, writer, "svc-a", eventstore.NoStream(),
		client.Registered{Client: "svc-a", Name: "a", At: now},
		client.SecretAdded{SecretID: "s1", Hash: client.HashSecretV1("pw"), At: now})
	wait(t, reg, pos)
	if v, _, _ := reg.Client(ctx, "svc-a"); !v.SecretMatches("pw", client.Pepper{}, time.Now()) {
		t.Fatal("the other instance does not accept the secret")
	}
	start := time.Now()
	pos = appendClient(t, writer, "svc-a", eventstore.Exact(2), client.Disabled{At: now})
	wait(t, reg, pos)
	t.Logf("the disable reached the other instance after %v", time.Since(start))
	if v, _, _ := reg.Client(ctx, "svc-a"); v.SecretMatches("pw", client.Pepper{}, time.Now()) {
		t.Fatal("the other instance still accepts a disabled client")
	}
}
