package memstore_test

import (
	"testing"
	"time"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/eventstore/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, storetest.Features{}, storetest.Factory{
		Open: func(t *testing.T, _ string) eventstore.Store {
			s := memstore.New(nil)
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
		OpenWithClock: func(t *testing.T, _ string, now func() time.Time) eventstore.Store {
			s := memstore.New(now)
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
	})
}
