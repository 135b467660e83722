package commands_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/eventstore/memstore"
)

type publications struct {
	mu  sync.Mutex
	got []string
	at  []time.Time
}

func (p *publications) PublishRevocation(_ context.Context, kind, id string, until time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, kind+":"+id)
	p.at = append(p.at, until)
	return nil
}

// Disabling a client revokes its tokens on this instance at once and
// hurries the revocation to the others, like every other revocation: the
// ledger event (client.disabled.v1 with access_until) follows through the
// feed.
func TestDisablingAClientAnnouncesItsRevocation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	pub := &publications{}
	s, err := commands.NewServices(commands.ServicesConfig{Store: memstore.New(nil), Pepper: testPepper, Now: func() time.Time { return now }, Publisher: pub})
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Register(ctx, commands.RegisterService{Name: "login", Scopes: []string{"sessions:create"}}, commands.Metadata{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second disable is a no-op and announces nothing
		if _, err := s.Disable(ctx, commands.DisableService{ClientID: r.Client.ID, Reason: "compromised"}, commands.Metadata{Actor: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	if len(pub.got) != 1 || pub.got[0] != "client:"+string(r.Client.ID) || !pub.at[0].Equal(now.Add(client.TokenHorizon())) {
		t.Fatalf("published %v until %v, want one client:%s until %v", pub.got, pub.at, r.Client.ID, now.Add(client.TokenHorizon()))
	}
}
