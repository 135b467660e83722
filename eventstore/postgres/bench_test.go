package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/authledger/authledger/eventstore/postgres"
	"github.com/authledger/authledger/eventstore/storetest"
	"github.com/authledger/authledger/internal/pgtest"
)

// go test -run '^$' -bench Append -benchtime 20000x ./eventstore/postgres/
func BenchmarkAppend(b *testing.B) {
	for _, writers := range []int{1, 32} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s, err := postgres.Open(context.Background(), pgtest.NewDatabase(b), postgres.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			storetest.BenchAppend(b, s, writers)
		})
	}
}

// go test -run '^$' -bench ReadAll ./eventstore/postgres/
func BenchmarkReadAll(b *testing.B) {
	s, err := postgres.Open(context.Background(), pgtest.NewDatabase(b), postgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchReadAll(b, s, 20000)
}
