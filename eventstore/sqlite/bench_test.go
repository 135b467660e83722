package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/authledger/authledger/eventstore/sqlite"
	"github.com/authledger/authledger/eventstore/storetest"
)

// go test -run '^$' -bench Append -benchtime 20000x ./eventstore/sqlite/
func BenchmarkAppend(b *testing.B) {
	for _, writers := range []int{1, 32} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			storetest.BenchAppend(b, s, writers)
		})
	}
}

// go test -run '^$' -bench ReadAll ./eventstore/sqlite/
func BenchmarkReadAll(b *testing.B) {
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchReadAll(b, s, 20000)
}
