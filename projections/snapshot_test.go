package projections_test

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/sqlite"
	"github.com/authledger/authledger/projections"
)

// snapCounter is a snapshottable memory projection: it counts "n.v1" events.
type snapCounter struct {
	n, pos uint64
}

func (*snapCounter) Name() string      { return "counter.v1" }
func (*snapCounter) Handles() []string { return []string{"n.v1"} }
func (c *snapCounter) Apply(_ context.Context, r eventstore.Record) error {
	c.n++
	c.pos = r.Position
	return nil
}
func (c *snapCounter) Snapshot() (uint64, []byte, error) {
	return c.pos, []byte(strconv.FormatUint(c.n, 10)), nil
}
func (c *snapCounter) Restore(pos uint64, data []byte) error {
	n, err := strconv.ParseUint(string(data), 10, 64)
	c.n, c.pos = n, pos
	return err
}

func appendN(t *testing.T, s eventstore.Store, n int) {
	t.Helper()
	evs := make([]eventstore.Event, n)
	for i := range evs {
		evs[i] = eventstore.Event{Type: "n.v1", Data: []byte(`{}`)}
	}
	if _, err := s.Append(context.Background(), eventstore.StreamAppend{Stream: "c", Expected: eventstore.Any(), Events: evs}); err != nil {
		t.Fatal(err)
	}
}

func TestASnapshotRestoresStateAndPositionOnlyOnItsOwnLedger(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	open := func(name string) eventstore.Store {
		s, err := sqlite.Open(ctx, filepath.Join(dir, name), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	ledger := open("ledger.db")
	db, err := projections.Open(ctx, "sqlite://"+filepath.Join(dir, "rm.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	snaps, err := projections.NewSnapshotStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, ledger, 5)
	c := &snapCounter{}
	if _, err := projections.CatchUp(ctx, ledger, c, 0); err != nil {
		t.Fatal(err)
	}
	if err := snaps.Save(ctx, ledger, c); err != nil {
		t.Fatal(err)
	}
	appendN(t, ledger, 3)

	restored := &snapCounter{}
	pos, ok, err := snaps.Load(ctx, ledger, restored)
	if err != nil || !ok || pos != 5 || restored.n != 5 {
		t.Fatalf("Load = %d %v %v, snapCounter %+v; want position 5 and 5 events", pos, ok, err, restored)
	}
	// Catching up from the snapshot folds only what came after it.
	if _, err := projections.CatchUp(ctx, ledger, restored, pos); err != nil {
		t.Fatal(err)
	}
	if restored.n != 8 {
		t.Fatalf("after catching up from the snapshot: %d events, want 8", restored.n)
	}

	// Another ledger of the same length has other hashes: not loaded.
	other := open("other.db")
	appendN(t, other, 8)
	foreign := &snapCounter{}
	if _, ok, err := snaps.Load(ctx, other, foreign); ok || !errors.Is(err, projections.ErrForeignSnapshot) || foreign.n != 0 {
		t.Fatalf("Load on another ledger = %v %v, snapCounter %+v; want ErrForeignSnapshot and no state", ok, err, foreign)
	}
	// A shorter ledger (restored from an older backup) lacks the position.
	short := open("short.db")
	appendN(t, short, 2)
	if _, ok, err := snaps.Load(ctx, short, &snapCounter{}); ok || !errors.Is(err, projections.ErrForeignSnapshot) {
		t.Fatalf("Load on a shorter ledger = %v %v; want ErrForeignSnapshot", ok, err)
	}
	// No snapshot yet: nothing to load, no error.
	if _, ok, err := snaps.Load(ctx, ledger, &otherSnapCounter{snapCounter: &snapCounter{}}); ok || err != nil {
		t.Fatalf("Load without a snapshot = %v %v", ok, err)
	}
}

type otherSnapCounter struct{ *snapCounter }

func (otherSnapCounter) Name() string { return "other_counter.v1" }
