package local_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/authledger/authledger/secrets"
	"github.com/authledger/authledger/secrets/local"
	"github.com/authledger/authledger/secrets/secretstest"
)

func TestContract(t *testing.T) {
	secretstest.Run(t, func(t *testing.T) secrets.Provider {
		p, err := local.Open(t.TempDir(), local.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	})
}

func TestLocal(t *testing.T) {
	ctx := context.Background()
	t.Run("the generated master key file and the secrets file are 0600", func(t *testing.T) {
		t.Setenv(local.EnvMasterKey, "")
		dir := t.TempDir()
		p, err := local.Open(dir, local.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Put(ctx, "a", []byte("v")); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"master.key", "secrets.json"} {
			st, err := os.Stat(filepath.Join(dir, n))
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("%s: %v %v", n, st.Mode(), err)
			}
		}
	})
	t.Run("the plaintext is not in the file", func(t *testing.T) {
		dir := t.TempDir()
		p, _ := local.Open(dir, local.Options{})
		_, _ = p.Put(ctx, "a", []byte("plain-text-marker"))
		b, _ := os.ReadFile(filepath.Join(dir, "secrets.json"))
		if bytes.Contains(b, []byte("plain-text-marker")) || len(b) == 0 {
			t.Fatal("secret stored in the clear")
		}
	})
	t.Run("a second process on the same dir sees writes and reuses the master key", func(t *testing.T) {
		dir := t.TempDir()
		a, _ := local.Open(dir, local.Options{})
		if _, err := a.Put(ctx, "shared", []byte("1")); err != nil {
			t.Fatal(err)
		}
		b, err := local.Open(dir, local.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Put(ctx, "shared", []byte("2")); err != nil {
			t.Fatal(err)
		}
		s, err := a.Get(ctx, "shared")
		if err != nil || string(s.Value.Bytes()) != "2" || s.Version != "2" {
			t.Fatalf("a sees %q v%s, %v", s.Value.Bytes(), s.Version, err)
		}
	})
	t.Run("a wrong master key fails at open with ErrCorrupt", func(t *testing.T) {
		dir := t.TempDir()
		p, _ := local.Open(dir, local.Options{MasterKey: key(t)})
		_, _ = p.Put(ctx, "a", []byte("v"))
		if _, err := local.Open(dir, local.Options{MasterKey: key(t)}); !errors.Is(err, secrets.ErrCorrupt) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a tampered entry fails with ErrCorrupt", func(t *testing.T) {
		dir := t.TempDir()
		k := key(t)
		p, _ := local.Open(dir, local.Options{MasterKey: k})
		_, _ = p.Put(ctx, "a", []byte("v1"))
		_, _ = p.Put(ctx, "b", []byte("v2"))
		path := filepath.Join(dir, "secrets.json")
		raw, _ := os.ReadFile(path)
		// Swap the two entries' names: AAD binding must catch it.
		raw = bytes.Replace(raw, []byte(`"a":`), []byte(`"tmp":`), 1)
		raw = bytes.Replace(raw, []byte(`"b":`), []byte(`"a":`), 1)
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		q, _ := local.Open(dir, local.Options{MasterKey: k})
		if _, err := q.Get(ctx, "a"); !errors.Is(err, secrets.ErrCorrupt) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("the master key comes from the environment when set", func(t *testing.T) {
		k := key(t)
		t.Setenv(local.EnvMasterKey, base64.StdEncoding.EncodeToString(k))
		dir := t.TempDir()
		p, err := local.Open(dir, local.Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = p.Put(ctx, "a", []byte("v"))
		if _, err := os.Stat(filepath.Join(dir, "master.key")); !errors.Is(err, os.ErrNotExist) {
			t.Fatal("a master key file was written although the environment set one")
		}
		if _, err := local.Open(dir, local.Options{MasterKey: k}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a malformed environment master key is refused", func(t *testing.T) {
		t.Setenv(local.EnvMasterKey, "c2hvcnQ=")
		if _, err := local.Open(t.TempDir(), local.Options{}); !errors.Is(err, local.ErrBadMasterKey) {
			t.Fatalf("err = %v", err)
		}
	})
}

func key(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}
