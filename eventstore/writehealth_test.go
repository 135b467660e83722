package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/authledger/authledger/eventstore"
)

// faultyStore stands for an adapter: its appends fail with err while err
// is set, a stale expected version is a conflict, and its non-writing
// check answers check. (The adapters' own CheckWritable is tested against
// real files and servers in their packages.)
type faultyStore struct {
	eventstore.Store
	err   error
	check error
	n     uint64
}

func (f *faultyStore) Append(_ context.Context, a ...eventstore.StreamAppend) ([]eventstore.Record, error) {
	if f.err != nil {
		return nil, f.err
	}
	if !a[0].Expected.Check(f.n) {
		return nil, &eventstore.VersionConflictError{Stream: a[0].Stream, Expected: a[0].Expected, Actual: f.n}
	}
	f.n++
	return []eventstore.Record{{Position: f.n, Stream: a[0].Stream, Version: f.n}}, nil
}

func (f *faultyStore) CheckWritable(context.Context) error { return f.check }

func oneEvent(stream string, exp eventstore.ExpectedVersion) eventstore.StreamAppend {
	return eventstore.StreamAppend{Stream: stream, Expected: exp, Events: []eventstore.Event{{Type: "t.v1", Data: []byte(`{}`)}}}
}

func TestWriteHealthFollowsRealAppends(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	fs := &faultyStore{}
	w := eventstore.NewWriteHealth(fs, 10*time.Second, clock)

	if err := w.Check(ctx); err != nil {
		t.Fatalf("a fresh store is not ready: %v", err)
	}
	// A version conflict is the caller's problem, not the store's.
	if _, err := w.Append(ctx, oneEvent("s", eventstore.Exact(5))); !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
		t.Fatalf("append: %v", err)
	}
	if err := w.Check(ctx); err != nil {
		t.Fatalf("a version conflict made the store unready: %v", err)
	}
	fs.err = eventstore.Unavailable(fmt.Errorf("insert: %w", syscall.EROFS))
	fs.check = eventstore.Unavailable(syscall.EROFS)
	if _, err := w.Append(ctx, oneEvent("s", eventstore.Any())); err == nil {
		t.Fatal("the faulty append succeeded")
	}
	if err := w.Check(ctx); !errors.Is(err, eventstore.ErrNotWritable) {
		t.Fatalf("after a failed append Check = %v, want ErrNotWritable", err)
	}
	// Past the quiet period the non-writing check still fails: unready.
	now = now.Add(11 * time.Second)
	if err := w.Check(ctx); !errors.Is(err, eventstore.ErrNotWritable) {
		t.Fatalf("read-only past the quiet period: Check = %v, want ErrNotWritable", err)
	}
	// The check passes again, but the last failure was just now (the
	// failed check restarted the quiet period).
	fs.check = nil
	if err := w.Check(ctx); !errors.Is(err, eventstore.ErrNotWritable) {
		t.Fatalf("right after a failed check: Check = %v, want ErrNotWritable", err)
	}
	now = now.Add(11 * time.Second)
	if err := w.Check(ctx); err != nil {
		t.Fatalf("writable again after the quiet period: %v", err)
	}
	// A successful real append clears the failure at once.
	if _, err := w.Append(ctx, oneEvent("s", eventstore.Any())); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("append: %v", err)
	}
	if err := w.Check(ctx); err == nil {
		t.Fatal("ready right after a failed append")
	}
	fs.err = nil
	if _, err := w.Append(ctx, oneEvent("s", eventstore.Any())); err != nil {
		t.Fatal(err)
	}
	if err := w.Check(ctx); err != nil {
		t.Fatalf("a successful append did not make the store ready: %v", err)
	}
}

func TestWriteHealthProbeAtStart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fs := &faultyStore{check: eventstore.Unavailable(syscall.ENOSPC)}
	w := eventstore.NewWriteHealth(fs, 0, nil)
	if err := w.Probe(ctx); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("Probe = %v", err)
	}
	if err := w.Check(ctx); !errors.Is(err, eventstore.ErrNotWritable) {
		t.Fatalf("a store that failed its start probe is ready: %v", err)
	}
}
