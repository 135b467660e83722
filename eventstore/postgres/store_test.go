package postgres_test

import (
	"context"
	"sync"
	"testing"

	"authledger/eventstore"
	"authledger/eventstore/postgres"
	"authledger/eventstore/storetest"
	"authledger/internal/pgtest"
)

// databases maps a ledger name to its database, so that reopening a name
// reaches the same ledger.
type databases struct {
	mu   sync.Mutex
	dsns map[string]string
}

func (d *databases) dsn(t *testing.T, name string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if dsn, ok := d.dsns[name]; ok {
		return dsn
	}
	dsn := pgtest.NewDatabase(t)
	d.dsns[name] = dsn
	return dsn
}

func open(t *testing.T, dsn string, opt postgres.Options) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, opt)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestContract(t *testing.T) {
	dbs := &databases{dsns: map[string]string{}}
	storetest.Run(t, storetest.Features{Durable: true, UniqueIDs: true}, storetest.Factory{
		Open: func(t *testing.T, name string) eventstore.Store {
			return open(t, dbs.dsn(t, name), postgres.Options{})
		},
	})
}
