package audit_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/audit"
)

// t0 is the ledger's first recorded time; each event is one millisecond and
// one microsecond later, so timestamps differ in their last digits.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)

// sealed returns n records chained exactly as a store would seal them, over
// a few interleaved streams so stream versions matter.
func sealed(tb testing.TB, n int) []eventstore.Record {
	tb.Helper()
	out := make([]eventstore.Record, 0, n)
	head := eventstore.Head{Hash: eventstore.GenesisHash}
	versions := map[string]uint64{}
	streams := []string{"keyring", "session-a", "family-b", "client-c", "token-d"}
	for i := range n {
		stream := streams[i%len(streams)]
		recs, err := eventstore.Seal(head, t0.Add(time.Duration(i)*(time.Millisecond+time.Microsecond)), versions, []eventstore.StreamAppend{{
			Stream: stream,
			Events: []eventstore.Event{{
				ID:       uuid.Must(uuid.NewV7()).String(),
				Type:     fmt.Sprintf("Thing%dHappened", i%3),
				Data:     json.RawMessage(fmt.Sprintf(`{"n":%d,"subject":"sub-%d","ok":true}`, i, i%11)),
				Metadata: json.RawMessage(fmt.Sprintf(`{"correlation_id":"c-%d","actor":"test"}`, i)),
			}},
		}})
		if err != nil {
			tb.Fatalf("seal event %d: %v", i, err)
		}
		r := recs[0]
		versions[stream] = r.Version
		head = eventstore.Head{Position: r.Position, Hash: r.Hash}
		out = append(out, r)
	}
	return out
}

// exportOf renders records as export lines.
func exportOf(tb testing.TB, recs []eventstore.Record) [][]byte {
	tb.Helper()
	lines := make([][]byte, len(recs))
	for i, r := range recs {
		b, err := audit.AppendLine(nil, r)
		if err != nil {
			tb.Fatalf("export line %d: %v", i+1, err)
		}
		lines[i] = b
	}
	return lines
}

func join(lines [][]byte) []byte { return bytes.Join(lines, nil) }

// sliceStore serves fixed records through the Store port, so Verify can be
// fed a tampered ledger without a database. Only reads are supported.
type sliceStore struct{ recs []eventstore.Record }

var _ eventstore.Store = (*sliceStore)(nil)

func (s *sliceStore) ReadAll(ctx context.Context, after uint64, limit int) ([]eventstore.Record, error) {
	var out []eventstore.Record
	for _, r := range s.recs {
		if r.Position > after && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, ctx.Err()
}

var errReadOnly = errors.New("sliceStore: read only")

func (s *sliceStore) Append(context.Context, ...eventstore.StreamAppend) ([]eventstore.Record, error) {
	return nil, errReadOnly
}
func (s *sliceStore) ReadStream(context.Context, string) ([]eventstore.Record, error) {
	return nil, errReadOnly
}
func (s *sliceStore) Head(context.Context) (eventstore.Head, error) {
	return eventstore.Head{}, errReadOnly
}
func (s *sliceStore) Subscribe(context.Context, uint64, eventstore.Handler) error {
	return errReadOnly
}
func (s *sliceStore) Close() error { return nil }

// wantBreak fails unless err is an *audit.Error at position want.
func wantBreak(tb testing.TB, err error, want uint64) {
	tb.Helper()
	var ae *audit.Error
	if !errors.As(err, &ae) {
		tb.Fatalf("want *audit.Error at position %d, got %v", want, err)
	}
	if ae.Position != want {
		tb.Fatalf("want break at position %d, got %v", want, err)
	}
	if !errors.Is(err, audit.ErrChainBroken) {
		tb.Fatalf("%v does not match ErrChainBroken", err)
	}
	if got, prefix := err.Error(), fmt.Sprintf("position %d: ", want); len(got) <= len(prefix) || got[:len(prefix)] != prefix {
		tb.Fatalf("message %q does not start with %q", got, prefix)
	}
}

func asError(err error, target **audit.Error) bool { return errors.As(err, target) }

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
