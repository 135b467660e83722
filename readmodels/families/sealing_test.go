package families_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/readmodels/families"
)

func sealingRecord(t *testing.T, pos uint64, e interface{ EventType() string }) eventstore.Record {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return eventstore.Record{Position: pos, Type: e.EventType(), Data: b}
}

func TestSealingKeysKnowsTheKeysOfUnexpiredTokens(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	s := families.NewSealingKeys()
	for i, e := range []interface{ EventType() string }{
		refreshtoken.Started{KeyID: "v1", ExpiresAt: t0.Add(time.Hour), At: t0},
		refreshtoken.Rotated{KeyID: "v2", ExpiresAt: t0.Add(48 * time.Hour), At: t0},
		// An older expiry never shortens what a key must still open.
		refreshtoken.Rotated{KeyID: "v2", ExpiresAt: t0.Add(time.Hour), At: t0},
	} {
		if err := s.Apply(context.Background(), sealingRecord(t, uint64(i+1), e)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		kid  string
		at   time.Time
		live bool
	}{
		{"a key sealing an unexpired token is live", "v1", t0, true},
		{"a key whose last token expired is not", "v1", t0.Add(2 * time.Hour), false},
		{"the latest expiry of a key counts", "v2", t0.Add(24 * time.Hour), true},
		{"a key the ledger never used is not", "v9", t0, false},
	} {
		if got := s.Live(c.kid, c.at); got != c.live {
			t.Errorf("%s: Live(%s) = %t", c.name, c.kid, got)
		}
	}
	if got := s.Needed(t0.Add(2 * time.Hour)); !reflect.DeepEqual(got, []string{"v2"}) {
		t.Errorf("Needed = %v, want [v2]", got)
	}
}
