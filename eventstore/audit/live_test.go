package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/audit"
	"github.com/authledger/authledger/eventstore/postgres"
	"github.com/authledger/authledger/eventstore/sqlite"
	"github.com/authledger/authledger/internal/pgtest"
)

// Auditors run verify against the live ledger (DESIGN.md §5: every CLI
// command works while the server runs). Concurrent commits must never look
// like tampering, and the head reported must be a real head.
func TestVerifyingWhileAppendsCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	stores := map[string]func(t *testing.T) eventstore.Store{
		"sqlite": func(t *testing.T) eventstore.Store {
			s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ledger.db"), sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"postgres": func(t *testing.T) eventstore.Store {
			s, err := postgres.Open(ctx, pgtest.NewDatabase(t), postgres.Options{MaxConns: 4})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			defer s.Close()
			const writers, each = 4, 40
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for w := range writers {
				wg.Go(func() {
					for i := range each {
						_, err := s.Append(ctx, eventstore.StreamAppend{Stream: fmt.Sprintf("session-%d", w), Events: []eventstore.Event{{
							Type: "session.started.v1", Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)),
						}}})
						if err != nil {
							errs <- err
							return
						}
					}
				})
			}
			verified := 0
			for done := false; !done; {
				select {
				case err := <-errs:
					t.Fatal(err)
				default:
				}
				head, err := audit.Verify(ctx, s, audit.Options{PageSize: 7})
				if err != nil {
					t.Fatalf("verify during appends: %v", err)
				}
				if recs, err := s.ReadAll(ctx, head.Position-min(head.Position, 1), 1); head.Position > 0 && (err != nil || recs[0].Hash != head.Hash) {
					t.Fatalf("verify reported head %d %s, the ledger has %v (%v)", head.Position, head.Hash, recs, err)
				}
				verified++
				done = head.Position == writers*each
				if !done && verified > 10_000 {
					t.Fatal("appends never finished")
				}
			}
			wg.Wait()
		})
	}
}
