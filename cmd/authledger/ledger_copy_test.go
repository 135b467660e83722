package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/eventstore/esdb/esdbtest"
	"github.com/authledger/authledger/internal/pgtest"
)

func esdbStream(t *testing.T, srv *esdbtest.Server, stream string) string {
	t.Helper()
	u, _ := url.Parse(srv.URL())
	q := u.Query()
	q.Set("ledger_stream", stream)
	u.RawQuery = q.Encode()
	return u.String()
}

// A ledger moves SQLite → EventStoreDB → PostgreSQL → SQLite and back with
// its positions, times and hashes, so each copy verifies with the same head,
// and an interrupted or repeated copy continues rather than duplicating.
func TestLedgerCopyBetweenAdapters(t *testing.T) {
	path, head := auditLedger(t, 25)
	srv, err := esdbtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	sqliteURL := "sqlite://" + path
	esdbURL := esdbStream(t, srv, "ledger-copy")
	pgURL := pgtest.NewDatabase(t)
	backURL := "sqlite://" + filepath.Join(t.TempDir(), "back.db")

	for _, hop := range [][2]string{{sqliteURL, esdbURL}, {esdbURL, pgURL}, {pgURL, backURL}} {
		code, out, errs := runCLI(t, "ledger", "copy", "--from", hop[0], "--to", hop[1])
		if code != 0 || !strings.Contains(out, fmt.Sprintf("copied 25 events (0 were there already); both ledgers verify: head position 25 hash %s", head.Hash)) {
			t.Fatalf("copy %s → %s: exit %d\n%s%s", hop[0], hop[1], code, out, errs)
		}
	}
	// Each store now verifies on its own, through audit verify, with the
	// source's head.
	for _, store := range []string{esdbURL, pgURL, backURL} {
		t.Setenv("AUTHLEDGER_STORE", store)
		code, out, errs := runCLI(t, "audit", "verify")
		if code != 0 || out != fmt.Sprintf("ok: head position 25 hash %s\n", head.Hash) {
			t.Fatalf("verify %s: exit %d %s%s", store, code, out, errs)
		}
	}

	// More events at the source: a second copy takes only those.
	appendEvents(t, sqliteURL, 5)
	code, out, errs := runCLI(t, "ledger", "copy", "--from", sqliteURL, "--to", esdbURL)
	if code != 0 || !strings.Contains(out, "copied 5 events (25 were there already); both ledgers verify: head position 30") {
		t.Fatalf("catch-up copy: exit %d %s%s", code, out, errs)
	}

	// A target holding another ledger is refused, and left as it was.
	other := "sqlite://" + filepath.Join(t.TempDir(), "other.db")
	appendEvents(t, other, 3)
	code, out, errs = runCLI(t, "ledger", "copy", "--from", sqliteURL, "--to", other)
	if code != 1 || !strings.Contains(errs, "the target holds a different ledger") {
		t.Fatalf("copy onto another ledger: exit %d %s%s", code, out, errs)
	}

	for _, args := range [][]string{
		{"ledger", "copy", "--from", sqliteURL},
		{"ledger", "copy", "--from", sqliteURL, "--to", sqliteURL},
		{"ledger"},
	} {
		if code, _, _ := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, _, errs := runCLI(t, "ledger", "copy", "--from", "sqlite://"+filepath.Join(t.TempDir(), "none.db"), "--to", backURL); code != 1 || !strings.Contains(errs, "no ledger at") {
		t.Errorf("copy from a missing file: exit %d %s", code, errs)
	}
}

func appendEvents(t *testing.T, storeURL string, n int) {
	t.Helper()
	ctx := context.Background()
	s, err := openStore(ctx, storeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range n {
		if _, err := s.Append(ctx, eventstore.StreamAppend{Stream: "more", Expected: eventstore.Any(), Events: []eventstore.Event{{
			Type: "more.v1", Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)),
		}}}); err != nil {
			t.Fatal(err)
		}
	}
}
