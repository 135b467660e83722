package projections_test

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authledger/authledger/eventstore/memstore"
)

func TestTwoInstancesOnPostgresRunEachProjectionOnceAndFailOver(t *testing.T) {
	t.Parallel()
	store := memstore.New(nil) // one ledger shared by both "instances"
	db := openDB(t, engines[1].open(t))
	rng := rand.New(rand.NewPCG(21, 22))
	head := appendRandom(t, store, rng, 100)

	regA, regB := prometheus.NewRegistry(), prometheus.NewRegistry()
	cfgA, cfgB := testConfig(store, db), testConfig(store, db)
	cfgA.Registerer, cfgA.Instance = regA, "instance-a"
	cfgB.Registerer, cfgB.Instance = regB, "instance-b"
	a := startRunner(t, cfgA, newCounter("one.v1"), newCounter("two.v1"))
	waitFor(t, a, "one.v1", head)
	waitFor(t, a, "two.v1", head)
	b := startRunner(t, cfgB, newCounter("one.v1"), newCounter("two.v1"))

	owned := func(reg *prometheus.Registry, name string) float64 {
		return projectionGauge(t, reg, "authledger_projection_owned", name)
	}
	eventually(t, "both instances report ownership", func() bool {
		mfs, _ := regB.Gather()
		return len(mfs) > 0 && projectionGaugeExists(regB, "authledger_projection_owned")
	})
	head = appendRandom(t, store, rng, 100)
	waitFor(t, a, "one.v1", head)
	waitFor(t, b, "two.v1", head) // b waits on the stored checkpoint
	for _, name := range []string{"one.v1", "two.v1"} {
		if oa, ob := owned(regA, name), owned(regB, name); oa+ob != 1 {
			t.Fatalf("%s owned by a=%v b=%v, want exactly one", name, oa, ob)
		}
		if s := statusOf(t, db, store, name); s.Owner != "instance-a" {
			t.Fatalf("%s owner %q, want instance-a (it started first)", name, s.Owner)
		}
	}

	// A projection stopped on its owner makes the standby unready too: it
	// serves the same stale read model.
	// The owner's heartbeat rewrites its live state about once a second, so
	// a heartbeat landing between the write and the read undoes the staged
	// stop: stage it again until one read sees it.
	eventually(t, "the standby reports the owner's stop", func() bool {
		if _, err := db.Exec(`UPDATE projection_state SET state = 'stopped', error = 'boom', error_position = 7 WHERE name = 'one.v1'`); err != nil {
			t.Fatal(err)
		}
		err := b.Ready(context.Background())
		return err != nil && strings.Contains(err.Error(), "one.v1 stopped at position 7 on another instance")
	})
	if _, err := db.Exec(`UPDATE projection_state SET state = 'running', error = '', error_position = 0 WHERE name = 'one.v1'`); err != nil {
		t.Fatal(err)
	}

	a.stop() // the instance dies; its sessions and locks end
	head = appendRandom(t, store, rng, 100)
	waitFor(t, b, "one.v1", head)
	waitFor(t, b, "two.v1", head)
	for _, name := range []string{"one.v1", "two.v1"} {
		eventually(t, name+" runs on instance-b", func() bool { return owned(regB, name) == 1 })
		gotS, gotA := dump(t, db, name)
		wantS, wantA := model(allRecords(t, store))
		if gotS != wantS || gotA != wantA {
			t.Fatalf("%s after fail-over differs from the fold (lost or doubled events)", name)
		}
	}
}

func projectionGaugeExists(reg *prometheus.Registry, name string) bool {
	mfs, err := reg.Gather()
	if err != nil {
		return false
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.Metric) >= 2 {
			return true
		}
	}
	return false
}
