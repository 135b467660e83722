package esdb_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/audit"
	"github.com/authledger/authledger/eventstore/esdb"
)

func open(t *testing.T, conn string) *esdb.Store {
	t.Helper()
	s, err := esdb.Open(context.Background(), conn, esdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func appendOne(ctx context.Context, s eventstore.Store, stream string, i int) error {
	_, err := s.Append(ctx, eventstore.StreamAppend{Stream: stream, Expected: eventstore.Any(), Events: []eventstore.Event{{
		Type: "test.appended.v1", Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)),
	}}})
	return err
}

// Two instances on one ledger stream race for the head: neither forks the
// chain, every acknowledged append is in it once, and each instance's feed
// delivers the other's appends.
func TestTwoInstancesKeepOneChain(t *testing.T) {
	t.Parallel()
	conn, _ := server(t)
	conn = withStream(conn, "ledger-two-"+t.Name())
	a, b := open(t, conn), open(t, conn)
	ctx := context.Background()

	const perWriter, writers = 40, 4
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers*perWriter)
	for w := range writers {
		for _, s := range []*esdb.Store{a, b} {
			wg.Go(func() {
				for i := range perWriter {
					if err := appendOne(ctx, s, fmt.Sprintf("agg-%d", w), i); err != nil {
						errs <- err
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("append: %v", err)
	}
	const want = 2 * writers * perWriter
	for name, s := range map[string]*esdb.Store{"a": a, "b": b} {
		head, err := audit.Verify(ctx, s, audit.Options{})
		if err != nil {
			t.Fatalf("instance %s: the chain does not verify: %v", name, err)
		}
		if head.Position != want {
			t.Fatalf("instance %s: head %d, want %d", name, head.Position, want)
		}
		for w := range writers {
			recs, err := s.ReadStream(ctx, fmt.Sprintf("agg-%d", w))
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 2*perWriter {
				t.Fatalf("instance %s: agg-%d holds %d events, want %d", name, w, len(recs), 2*perWriter)
			}
			for i, r := range recs {
				if r.Version != uint64(i+1) {
					t.Fatalf("instance %s: agg-%d event %d has version %d", name, w, i, r.Version)
				}
			}
		}
	}

	// A's feed sees what B appends next, learned from the subscription.
	got := make(chan uint64, 1)
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_ = a.Subscribe(fctx, want, func(_ context.Context, r eventstore.Record) error {
			got <- r.Position
			cancel()
			return nil
		})
	}()
	if err := appendOne(ctx, b, "agg-late", 0); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-got:
		if p != want+1 {
			t.Fatalf("a's feed delivered position %d, want %d", p, want+1)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("a's feed never delivered b's append")
	}
}

// A stale expected version on an aggregate is the port's conflict error
// even when the aggregate was last written by the other instance.
func TestAConflictAcrossInstancesIsAVersionConflict(t *testing.T) {
	t.Parallel()
	conn, _ := server(t)
	conn = withStream(conn, "ledger-conflict")
	a, b := open(t, conn), open(t, conn)
	ctx := context.Background()
	ev := []eventstore.Event{{Type: "t.v1", Data: json.RawMessage(`{}`)}}
	if _, err := a.Append(ctx, eventstore.StreamAppend{Stream: "x", Expected: eventstore.NoStream(), Events: ev}); err != nil {
		t.Fatal(err)
	}
	_, err := b.Append(ctx, eventstore.StreamAppend{Stream: "x", Expected: eventstore.NoStream(), Events: ev})
	var vc *eventstore.VersionConflictError
	if !errors.As(err, &vc) {
		t.Fatalf("b appending at no-stream after a wrote: %v, want a version conflict", err)
	}
}

// The server restarting drops the subscription; the adapter resubscribes
// from its head, so appends made by another instance after the restart
// still reach this instance's feed.
func TestTheFeedResumesAfterTheServerRestarts(t *testing.T) {
	t.Parallel()
	_, fake := server(t)
	if fake == nil {
		t.Skip("restarts the in-process server; not run against a real one")
	}
	conn := withStream(fake.URL(), "ledger-restart")
	a, b := open(t, conn), open(t, conn)
	ctx := context.Background()
	if err := appendOne(ctx, a, "s", 0); err != nil {
		t.Fatal(err)
	}
	got := make(chan uint64, 16)
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		// A read that meets the restart ends Subscribe with the outage, as
		// on every adapter; its callers (the projection runner) subscribe
		// again from their checkpoint, and so does this one.
		var seen uint64
		for fctx.Err() == nil {
			_ = a.Subscribe(fctx, seen, func(_ context.Context, r eventstore.Record) error {
				seen = r.Position
				got <- r.Position
				return nil
			})
			time.Sleep(50 * time.Millisecond)
		}
	}()
	if p := <-got; p != 1 {
		t.Fatalf("first position %d", p)
	}
	if err := fake.Restart(); err != nil {
		t.Fatal(err)
	}
	// B's first append after the restart may meet the reconnect: retry
	// until the server answers, as a caller of an outage does.
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := appendOne(ctx, b, "s", 1)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b never appended after the restart: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case p := <-got:
		if p != 2 {
			t.Fatalf("after the restart a's feed delivered %d, want 2", p)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a's feed never saw b's append after the restart")
	}
}

// An outage is ErrUnavailable (503 upstream), never a conflict.
func TestAnUnavailableServerIsAnOutage(t *testing.T) {
	t.Parallel()
	_, fake := server(t)
	if fake == nil {
		t.Skip("injects faults into the in-process server")
	}
	s := open(t, withStream(fake.URL(), "ledger-outage"))
	fake.FailAppends(1)
	err := appendOne(context.Background(), s, "s", 0)
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("append during a leader loss: %v, want ErrUnavailable", err)
	}
	if err := appendOne(context.Background(), s, "s", 1); err != nil {
		t.Fatalf("append after the fault: %v", err)
	}
}
