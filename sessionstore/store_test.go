package sessionstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/sessionstore"
)

// Both adapters are the commands' session store.
var (
	_ commands.SessionStore = (*sessionstore.Memory)(nil)
	_ commands.SessionStore = (*sessionstore.Redis)(nil)
)

var t0 = time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)

func redisAddr() string {
	if v := os.Getenv("AUTHLEDGER_TEST_REDIS"); v != "" {
		return v
	}
	return "127.0.0.1:6379"
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newRedis(t *testing.T) commands.SessionStore {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: redisAddr()})
	t.Cleanup(func() { _ = c.Close() })
	prefix := "authledger:test:" + randHex(6) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := c.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	return sessionstore.NewRedis(c, prefix, 12*time.Hour)
}

// runContract is the one contract every session store passes (doc.go).
func runContract(t *testing.T, newStore func(t *testing.T) commands.SessionStore) {
	ctx := context.Background()
	rec := func(id, subject, hash string) session.Record {
		return session.Record{ID: id, Subject: subject, ClientID: "login", ACR: "aal1", CreatedAt: t0, LastSeen: t0, TokenHash: hash}
	}
	t.Run("a created session is found by token hash and by id", func(t *testing.T) {
		s := newStore(t)
		r := rec("s1", "alice", "h1")
		if err := s.Create(ctx, r, time.Hour); err != nil {
			t.Fatal(err)
		}
		got, err := s.Lookup(ctx, "h1")
		if err != nil || got.ID != "s1" || got.Subject != "alice" {
			t.Fatalf("lookup: %+v %v", got, err)
		}
		if got, err := s.Get(ctx, "s1"); err != nil || got.TokenHash != "h1" {
			t.Fatalf("get: %+v %v", got, err)
		}
	})
	t.Run("an unknown token hash is not found", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Lookup(ctx, "nope"); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("saving a rotated token retires the old hash at once", func(t *testing.T) {
		s := newStore(t)
		r := rec("s1", "alice", "h1")
		_ = s.Create(ctx, r, time.Hour)
		r.TokenHash, r.ACR = "h2", "aal2"
		if err := s.Save(ctx, r, time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Lookup(ctx, "h1"); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("old hash still resolves: %v", err)
		}
		if got, err := s.Lookup(ctx, "h2"); err != nil || got.ACR != "aal2" {
			t.Fatalf("new hash: %+v %v", got, err)
		}
	})
	t.Run("a touch keeps the token and moves last seen", func(t *testing.T) {
		s := newStore(t)
		r := rec("s1", "alice", "h1")
		_ = s.Create(ctx, r, time.Hour)
		if err := s.Touch(ctx, r, t0.Add(time.Minute), time.Hour); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Lookup(ctx, "h1"); err != nil || !got.LastSeen.Equal(t0.Add(time.Minute)) {
			t.Fatalf("after touch: %+v %v", got, err)
		}
	})
	t.Run("a touch racing a rotation never brings the old token back", func(t *testing.T) {
		s := newStore(t)
		r := rec("s1", "alice", "h1")
		_ = s.Create(ctx, r, time.Hour)
		stale, _ := s.Lookup(ctx, "h1")
		r.TokenHash, r.ACR = "h2", "aal2"
		if err := s.Save(ctx, r, time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := s.Touch(ctx, stale, t0.Add(time.Minute), time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Lookup(ctx, "h1"); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("the rotated-out token resolves again: %v", err)
		}
		if got, err := s.Lookup(ctx, "h2"); err != nil || got.ACR != "aal2" {
			t.Fatalf("the new token after a stale touch: %+v %v", got, err)
		}
	})
	t.Run("a deleted session stops resolving and deleting twice is fine", func(t *testing.T) {
		s := newStore(t)
		_ = s.Create(ctx, rec("s1", "alice", "h1"), time.Hour)
		if err := s.Delete(ctx, "s1"); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "s1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Lookup(ctx, "h1"); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
		if _, err := s.Get(ctx, "s1"); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("listing shows only the subject's own sessions", func(t *testing.T) {
		s := newStore(t)
		_ = s.Create(ctx, rec("a1", "alice", "h1"), time.Hour)
		_ = s.Create(ctx, rec("a2", "alice", "h2"), time.Hour)
		_ = s.Create(ctx, rec("b1", "bob", "h3"), time.Hour)
		_ = s.Delete(ctx, "a2")
		got, err := s.ListBySubject(ctx, "alice")
		if err != nil || len(got) != 1 || got[0].ID != "a1" {
			t.Fatalf("list: %+v %v", got, err)
		}
		if got, _ := s.ListBySubject(ctx, "carol"); len(got) != 0 {
			t.Fatalf("carol sees %+v", got)
		}
	})
	t.Run("the store answers a ping", func(t *testing.T) {
		if err := newStore(t).Ping(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMemoryStore(t *testing.T) {
	runContract(t, func(t *testing.T) commands.SessionStore { return sessionstore.NewMemory(nil) })
}

func TestRedisStore(t *testing.T) {
	runContract(t, newRedis)
}

func TestMemoryStoreForgetsAfterTTL(t *testing.T) {
	now := t0
	m := sessionstore.NewMemory(func() time.Time { return now })
	_ = m.Create(context.Background(), session.Record{ID: "s1", Subject: "a", TokenHash: "h"}, time.Minute)
	now = now.Add(time.Minute)
	if _, err := m.Lookup(context.Background(), "h"); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
}

func TestRedisDownIsUnavailableNotNotFound(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	s := sessionstore.NewRedis(c, "x:", time.Hour)
	ctx := context.Background()
	checks := map[string]error{
		"lookup": func() error { _, err := s.Lookup(ctx, "h"); return err }(),
		"create": s.Create(ctx, session.Record{ID: "s", Subject: "a", TokenHash: "h"}, time.Minute),
		"list":   func() error { _, err := s.ListBySubject(ctx, "a"); return err }(),
		"ping":   s.Ping(ctx),
	}
	for name, err := range checks {
		if !errors.Is(err, session.ErrUnavailable) {
			t.Errorf("%s: err = %v, want ErrUnavailable", name, err)
		}
	}
}
