package passkeys_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/authledger/authledger/domain/passkey"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/projections"
	"github.com/authledger/authledger/projections/projectiontest"
	"github.com/authledger/authledger/readmodels/passkeys"
)

// ledger writes passkey histories through the aggregate: registrations,
// sign-ins (some with a counter that went back), renames, removals and a
// re-registration of a removed id.
type ledger struct {
	store eventstore.Store
	rng   *rand.Rand
	now   time.Time
	n     int
}

func (l *ledger) Write(t testing.TB, n int) {
	t.Helper()
	ctx := context.Background()
	for range n {
		l.n++
		l.now = l.now.Add(time.Second)
		subject := fmt.Sprintf("user-%d", l.rng.IntN(4))
		recs, err := l.store.ReadStream(ctx, passkey.Stream(subject))
		if err != nil {
			t.Fatal(err)
		}
		var es []passkey.Event
		for _, r := range recs {
			e, err := passkey.Decode(r.Type, r.Data)
			if err != nil {
				t.Fatal(err)
			}
			es = append(es, e)
		}
		c := passkey.Load(subject, es)
		list := c.List()
		switch op := l.rng.IntN(6); {
		case len(list) == 0 || op == 0:
			id := fmt.Sprintf("cred-%d", l.rng.IntN(12))
			_ = c.Register(passkey.Registered{Credential: id, PublicKey: []byte{1}, Name: "key", Via: "enrolment", At: l.now})
		case op <= 3:
			cr := list[l.rng.IntN(len(list))]
			_ = c.SignIn(cr.ID, cr.SignCount+uint32(l.rng.IntN(3)), "sign_in", "uv", nil, l.now)
		case op == 4:
			_ = c.Rename(list[l.rng.IntN(len(list))].ID, fmt.Sprintf("key %d", l.n), l.now)
		default:
			_ = c.Remove(list[l.rng.IntN(len(list))].ID, l.now)
		}
		if len(c.Pending()) == 0 {
			continue
		}
		var evs []eventstore.Event
		for _, e := range c.Pending() {
			b, _ := json.Marshal(e)
			evs = append(evs, eventstore.Event{Type: e.EventType(), Data: b})
		}
		exp := eventstore.Exact(c.Version())
		if c.Version() == 0 {
			exp = eventstore.NoStream()
		}
		if _, err := l.store.Append(ctx, eventstore.StreamAppend{Stream: c.Stream(), Expected: exp, Events: evs}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCredentialsPassTheSQLProjectionContract(t *testing.T) {
	t.Parallel()
	projectiontest.Run(t, projectiontest.Case{
		New: func() projections.SQLProjection { return passkeys.Credentials{} },
		Ledger: func(store eventstore.Store) projectiontest.Ledger {
			return &ledger{store: store, rng: rand.New(rand.NewPCG(7, 18)), now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
		},
	})
}
