package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/authledger/authledger/domain/secretref"
)

func TestSecretsCLIOnInfisical(t *testing.T) {
	f := startFake(t)
	infisicalEnv(t, f, "dev")
	ctx := context.Background()
	cli := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := runSecrets(ctx, args, &out, &errOut)
		return out.String() + errOut.String(), err
	}
	// serve's first start writes the keys; the CLI then works beside it.
	cfg, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	a, err := buildApp(ctx, cfg, newLogger(&bytes.Buffer{}, "error"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()

	if _, err := cli("rotate-sealing-key"); err != nil {
		t.Fatal(err)
	}
	sealing, v, _ := f.Value(fakeProject, "dev", "/authledger", "refresh-sealing-key")
	if v != 2 {
		t.Fatalf("sealing key at version %d after a rotation", v)
	}

	out, err := cli("list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []secretRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	got := map[string]secretRow{}
	for _, r := range rows {
		got[r.Name] = r
	}
	if r := got["refresh-sealing-key"]; r.Version != "2" || r.Source != "provider" {
		t.Fatalf("sealing key row %+v", r)
	}
	var signing int
	for n, r := range got {
		if strings.HasPrefix(n, "signing-key/") && r.Source == "ledger" && r.Version == "1" {
			signing++
		}
	}
	if signing == 0 {
		t.Fatalf("no signing-key reference from the ledger: %s", out)
	}
	raw, _ := base64.StdEncoding.DecodeString(sealing)
	for _, v := range f.Values() {
		if strings.Contains(out, v) {
			t.Fatal("list printed a value")
		}
	}
	if strings.Contains(out, base64.RawURLEncoding.EncodeToString(raw)) {
		t.Fatal("list printed a value")
	}

	out, err = cli("rollback", "refresh-sealing-key", "1")
	if err != nil || !strings.Contains(out, "version 1 restored as version 3") {
		t.Fatalf("rollback: %v %s", err, out)
	}
	v1, _, _ := f.Value(fakeProject, "dev", "/authledger", "refresh-sealing-key")
	if v1 == sealing {
		t.Fatal("the rollback did not restore version 1's value")
	}
	for n := range got {
		if strings.HasPrefix(n, "signing-key/") {
			if _, err := cli("rollback", n, "1"); !errors.Is(err, secretref.ErrPinnedSecret) && !errors.Is(err, secretref.ErrAlreadyCurrent) {
				t.Fatalf("signing key rollback: %v", err)
			}
			break
		}
	}
	changes, err := secretChanges(ctx, a.store)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 {
		t.Fatalf("%d changes recorded, want the rotation and the rollback", len(changes))
	}
	r, ok := changes[1].(secretref.VersionRestored)
	if !ok || r.Name != "refresh-sealing-key" || r.RestoredVersion != "1" || r.PreviousVersion != "2" || r.NewVersion != "3" {
		t.Fatalf("recorded %+v", changes[1])
	}
}
