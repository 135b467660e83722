package esdb_test

import (
	"context"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/esdb"
	"github.com/authledger/authledger/eventstore/esdb/esdbtest"
	"github.com/authledger/authledger/eventstore/storetest"
)

// server is the in-process EventStoreDB, or a real one when
// AUTHLEDGER_TEST_ESDB_URL names it (docs/esdb.md).
func server(t testing.TB) (connection string, fake *esdbtest.Server) {
	t.Helper()
	if u := os.Getenv("AUTHLEDGER_TEST_ESDB_URL"); u != "" {
		return u, nil
	}
	s, err := esdbtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s.URL(), s
}

// withStream names the ledger stream; every run gets its own streams, so a
// real server can be reused.
func withStream(connection, stream string) string {
	u, _ := url.Parse(connection)
	q := u.Query()
	q.Set("ledger_stream", stream)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestContract(t *testing.T) {
	t.Parallel()
	conn, _ := server(t)
	run := uuid.NewString()[:8]
	openAt := func(t *testing.T, name string, now func() time.Time) eventstore.Store {
		s, err := esdb.Open(context.Background(), withStream(conn, "ledger-"+run+"-"+name), esdb.Options{Now: now})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	storetest.Run(t, storetest.Features{Durable: true}, storetest.Factory{
		Open:          func(t *testing.T, name string) eventstore.Store { return openAt(t, name, nil) },
		OpenWithClock: openAt,
	})
}
