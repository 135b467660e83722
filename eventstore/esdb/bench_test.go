package esdb_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/esdb"
	"github.com/authledger/authledger/eventstore/postgres"
	"github.com/authledger/authledger/eventstore/storetest"
	"github.com/authledger/authledger/internal/pgtest"
)

// The EventStoreDB adapter beside the PostgreSQL one in the same run, so
// the figure that carries over to other machines is the ratio. Against the
// in-process server this measures the adapter and the client's gRPC path,
// not a real cluster's disk; point AUTHLEDGER_TEST_ESDB_URL at one for that.
//
//	go test -run '^$' -bench . -benchtime 5000x ./eventstore/esdb/
func BenchmarkAppend(b *testing.B) {
	for _, writers := range []int{1, 32} {
		b.Run(fmt.Sprintf("esdb/writers=%d", writers), func(b *testing.B) {
			storetest.BenchAppend(b, openBench(b), writers)
		})
		b.Run(fmt.Sprintf("postgres/writers=%d", writers), func(b *testing.B) {
			s, err := postgres.Open(context.Background(), pgtest.NewDatabase(b), postgres.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			storetest.BenchAppend(b, s, writers)
		})
	}
}

// BenchmarkReadAll is the feed's catch-up rate: pages of the ledger stream.
func BenchmarkReadAll(b *testing.B) {
	storetest.BenchReadAll(b, openBench(b), 20000)
}

func openBench(b *testing.B) eventstore.Store {
	conn, _ := server(b)
	s, err := esdb.Open(context.Background(), withStream(conn, fmt.Sprintf("bench-%s", b.Name())), esdb.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}
