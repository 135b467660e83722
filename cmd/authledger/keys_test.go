package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authledger/authledger/domain/keyring"
	"github.com/authledger/authledger/eventstore/sqlite"
	"github.com/authledger/authledger/readmodels/jwks"
)

// TestKeysCLIAgainstARunningServersStore runs `keys` the way an operator
// does, next to a "server" whose JWKS read model follows its own handle on
// the same SQLite file.
func TestKeysCLIAgainstARunningServersStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Setenv("AUTHLEDGER_DATA_DIR", dir)
	t.Setenv("AUTHLEDGER_MASTER_KEY", "")
	server, err := sqlite.Open(ctx, filepath.Join(dir, "ledger.db"), sqlite.Options{FeedWake: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Close() })
	model := jwks.New()
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = model.Follow(fctx, server) }()
	t.Cleanup(func() { cancel(); <-done })

	keys := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := runKeys(ctx, args, &out, &errOut)
		return out.String() + errOut.String(), err
	}
	waitFor := func(cond func() bool) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			ch := model.Changed()
			if cond() {
				return
			}
			select {
			case <-ch:
			case <-deadline:
				t.Fatal("the server never saw the change")
			}
		}
	}

	out, err := keys("rotate", "--immediately")
	if err != nil || !strings.Contains(out, "active now") {
		t.Fatalf("rotate --immediately: %v %s", err, out)
	}
	first := strings.Fields(out)[0]
	waitFor(func() bool { a, ok := model.ActiveKey(); return ok && a.KID == first })

	out, err = keys("rotate")
	if err != nil || !strings.Contains(out, "published; signs from") {
		t.Fatalf("rotate: %v %s", err, out)
	}
	next := strings.Fields(out)[0]
	waitFor(func() bool { _, err := model.Key(ctx, next); return err == nil })
	if _, err := keys("rotate"); !errors.Is(err, keyring.ErrRotationPending) {
		t.Fatalf("second rotate: %v", err)
	}

	out, err = keys("list", "--json")
	var views []keyView
	if err != nil || json.Unmarshal([]byte(out), &views) != nil || len(views) != 2 {
		t.Fatalf("list: %v %s", err, out)
	}
	for _, v := range views {
		if strings.Contains(v.Secret, "=") || !strings.HasPrefix(v.Secret, "signing-key/") {
			t.Fatalf("list shows %q as the secret reference", v.Secret)
		}
	}

	out, err = keys("revoke", first, "--reason", "drill")
	if err != nil || !strings.Contains(out, "revoked") || !strings.Contains(out, "active now") {
		t.Fatalf("revoke: %v %s", err, out)
	}
	waitFor(func() bool { a, ok := model.ActiveKey(); return ok && a.KID != first })
	body, _, _ := model.JWKS()
	if strings.Contains(string(body), first) {
		t.Fatal("the revoked key is still served")
	}
	if _, err := keys("revoke"); exitCode(err) != 2 {
		t.Fatalf("revoke without KID: %v, want a usage error (exit 2)", err)
	}
	// A repeated revoke changes nothing and says so, rather than reading
	// like a second success.
	head, _ := server.Head(ctx)
	out, err = keys("revoke", first)
	if err != nil || !strings.Contains(out, first+" already revoked; nothing changed") {
		t.Fatalf("second revoke: %v %q", err, out)
	}
	if after, _ := server.Head(ctx); after.Position != head.Position {
		t.Fatalf("a repeated revoke appended %d events", after.Position-head.Position)
	}
	// --immediately over a pending key says that key is dropped.
	out, err = keys("rotate")
	if err != nil || !strings.Contains(out, "published; signs from") {
		t.Fatalf("rotate: %v %s", err, out)
	}
	pending := strings.Fields(out)[0]
	out, err = keys("rotate", "--immediately")
	if err != nil || !strings.Contains(out, pending+" dropped: it was published to sign from") {
		t.Fatalf("rotate --immediately over pending %s: %v %q", pending, err, out)
	}
}
