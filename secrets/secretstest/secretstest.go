// Package secretstest is the contract suite every secrets.Provider adapter
// passes: local now, Infisical when its URL is configured.
package secretstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/authledger/authledger/secrets"
)

// Run runs the contract against fresh providers from newProvider.
func Run(t *testing.T, newProvider func(t *testing.T) secrets.Provider) {
	ctx := context.Background()
	t.Run("a put value comes back from get with its version", func(t *testing.T) {
		p := newProvider(t)
		v, err := p.Put(ctx, "signing-key/a", []byte("one"))
		if err != nil {
			t.Fatal(err)
		}
		s, err := p.Get(ctx, "signing-key/a")
		if err != nil {
			t.Fatal(err)
		}
		if s.Version != v || !bytes.Equal(s.Value.Bytes(), []byte("one")) || s.Name != "signing-key/a" {
			t.Fatalf("got %s v%s, want v%s", s.Name, s.Version, v)
		}
	})
	t.Run("a second put adds a version and keeps the first", func(t *testing.T) {
		p := newProvider(t)
		v1, _ := p.Put(ctx, "refresh/key", []byte("one"))
		v2, err := p.Put(ctx, "refresh/key", []byte("two"))
		if err != nil || v1 == v2 {
			t.Fatalf("versions %q %q, err %v", v1, v2, err)
		}
		latest, _ := p.Get(ctx, "refresh/key")
		old, err := p.GetVersion(ctx, "refresh/key", v1)
		if err != nil || string(latest.Value.Bytes()) != "two" || string(old.Value.Bytes()) != "one" {
			t.Fatalf("latest %q old %q err %v", latest.Value.Bytes(), old.Value.Bytes(), err)
		}
	})
	t.Run("a missing name or version is ErrNotFound", func(t *testing.T) {
		p := newProvider(t)
		if _, err := p.Get(ctx, "nope"); !errors.Is(err, secrets.ErrNotFound) {
			t.Fatalf("Get: %v", err)
		}
		_, _ = p.Put(ctx, "x", []byte("1"))
		if _, err := p.GetVersion(ctx, "x", "999"); !errors.Is(err, secrets.ErrNotFound) {
			t.Fatalf("GetVersion: %v", err)
		}
	})
	t.Run("a bad name is refused before anything is stored", func(t *testing.T) {
		p := newProvider(t)
		for _, n := range []string{"", "../etc/passwd", "a//b", "/abs", "with space", strings.Repeat("a", 201)} {
			if _, err := p.Put(ctx, n, []byte("v")); !errors.Is(err, secrets.ErrInvalidName) {
				t.Fatalf("Put(%q): %v", n, err)
			}
		}
	})
	t.Run("a value over the size limit is refused", func(t *testing.T) {
		p := newProvider(t)
		if _, err := p.Put(ctx, "big", make([]byte, secrets.MaxValueBytes+1)); !errors.Is(err, secrets.ErrTooLarge) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("delete removes every version and deleting twice is fine", func(t *testing.T) {
		p := newProvider(t)
		_, _ = p.Put(ctx, "gone", []byte("v"))
		if err := p.Delete(ctx, "gone"); err != nil {
			t.Fatal(err)
		}
		if err := p.Delete(ctx, "gone"); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Get(ctx, "gone"); !errors.Is(err, secrets.ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("list returns the names under a prefix, sorted", func(t *testing.T) {
		p := newProvider(t)
		for _, n := range []string{"signing-key/b", "signing-key/a", "refresh/k"} {
			_, _ = p.Put(ctx, n, []byte("v"))
		}
		got, err := p.List(ctx, "signing-key/")
		if err != nil || fmt.Sprint(got) != "[signing-key/a signing-key/b]" {
			t.Fatalf("List = %v, %v", got, err)
		}
	})
	t.Run("16 concurrent puts to one name get 16 distinct versions", func(t *testing.T) {
		p := newProvider(t)
		var mu sync.Mutex
		seen := map[string]bool{}
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := p.Put(ctx, "race", []byte{byte(i)})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				seen[v] = true
				mu.Unlock()
			}()
		}
		wg.Wait()
		if len(seen) != 16 {
			t.Fatalf("%d distinct versions, want 16", len(seen))
		}
	})
	t.Run("a secret never prints its value", func(t *testing.T) {
		p := newProvider(t)
		_, _ = p.Put(ctx, "loud", []byte("hunter2-secret"))
		s, _ := p.Get(ctx, "loud")
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "secret", s, "value", s.Value)
		out := buf.String() + fmt.Sprintf("%v %+v %#v %s", s, s, s.Value, s.Value)
		if strings.Contains(out, "hunter2") {
			t.Fatalf("secret leaked: %s", out)
		}
	})
	t.Run("a cancelled context is honoured", func(t *testing.T) {
		p := newProvider(t)
		c, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := p.Put(c, "x", []byte("v")); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
}
