package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestParseBasicDecodesFormEncodedParts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, header, id, secret string
		ok                       bool
	}{
		{"plain parts are read as is", "svc-a:pw", "svc-a", "pw", true},
		{"percent-encoded parts are decoded (RFC 6749 §2.3.1)", "svc-a:p%3Aw%2B", "svc-a", "p:w+", true},
		{"a plus is a space in form encoding", "svc-a:a+b", "svc-a", "a b", true},
		{"a colon in the secret splits at the first colon", "svc-a:a:b", "svc-a", "a:b", true},
		{"no colon is refused", "svc-a", "", "", false},
		{"an empty id is refused", ":pw", "", "", false},
		{"bad percent-encoding is refused", "svc-a:%zz", "", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, secret, ok := parseBasic(base64.StdEncoding.EncodeToString([]byte(tc.header)))
			if ok != tc.ok || id != tc.id || secret != tc.secret {
				t.Fatalf("got %q %q %v", id, secret, ok)
			}
		})
	}
}

func FuzzClientCredentialsFromRequest(f *testing.F) {
	f.Add("Basic c3ZjLWE6cHc=", "grant_type=client_credentials")
	f.Add("", "client_id=a&client_secret=b")
	f.Add("", "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=a.b.c")
	f.Add("Basic !!!", "scope=a&scope=b")
	f.Fuzz(func(t *testing.T, auth, body string) {
		req, err := http.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if err := parseOAuthForm(req); err != nil {
			return
		}
		cred, err := credentialsFrom(req)
		if err != nil {
			return
		}
		if cred.Method == "" {
			t.Fatal("credentials without a method")
		}
		if n := len(req.PostForm["client_secret"]) + len(req.PostForm["client_assertion"]); n > 1 {
			t.Fatalf("several methods accepted: %v", url.Values(req.PostForm))
		}
	})
}

// runRateLimiterContract is what every RateLimiter backend must do.
func runRateLimiterContract(t *testing.T, newLimiter func(t *testing.T, l RateLimits) *RateLimiter) {
	ctx := context.Background()
	t.Run("a burst of failures for one client is stopped after the burst size", func(t *testing.T) {
		r := newLimiter(t, DefaultRateLimits())
		now := time.Unix(1000, 0)
		admitted := 0
		for range 300 {
			if _, ok := r.admit(ctx, "svc-a", "10.0.0.1", now); ok {
				admitted++
				r.failed(ctx, "svc-a", "10.0.0.1", now)
			}
		}
		if admitted != 20 {
			t.Fatalf("%d of 300 failing attempts admitted in one instant, want the burst of 20", admitted)
		}
		// Another address naming the same client is still limited by the
		// client's failure budget; an unrelated client from a fresh address is not.
		if _, ok := r.admit(ctx, "svc-a", "10.0.0.2", now); ok {
			t.Fatal("a fresh address got through for an attacked client")
		}
		if _, ok := r.admit(ctx, "svc-b", "10.0.0.3", now); !ok {
			t.Fatal("an unrelated client was limited")
		}
		w, ok := r.admit(ctx, "svc-a", "10.0.0.1", now)
		if ok || w <= 0 || w > 2*time.Second {
			t.Fatalf("limited answer: wait %v ok %v", w, ok)
		}
		// The budget refills at 1/s.
		if _, ok := r.admit(ctx, "svc-a", "10.0.0.1", now.Add(1500*time.Millisecond)); !ok {
			t.Fatal("the failure budget did not refill")
		}
	})
	t.Run("requests per client are capped at the burst", func(t *testing.T) {
		r := newLimiter(t, RateLimits{PerClient: 10, PerClientBurst: 5})
		now := time.Unix(1000, 0)
		n := 0
		for range 50 {
			if _, ok := r.admit(ctx, "svc-a", "10.0.0.1", now); ok {
				n++
			}
		}
		if n != 5 {
			t.Fatalf("%d admitted, want the burst of 5", n)
		}
	})
}

func TestMemoryRateLimiter(t *testing.T) {
	t.Parallel()
	runRateLimiterContract(t, func(t *testing.T, l RateLimits) *RateLimiter { return NewRateLimiter(l) })
}

func TestRedisRateLimiter(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis at 127.0.0.1:6379 (run scripts/services.sh): %v", err)
	}
	runRateLimiterContract(t, func(t *testing.T, l RateLimits) *RateLimiter {
		var b [6]byte
		_, _ = rand.Read(b[:])
		prefix := "authledger:test:rl:" + hex.EncodeToString(b[:]) + ":"
		t.Cleanup(func() {
			keys, _ := rdb.Keys(context.Background(), prefix+"*").Result()
			if len(keys) > 0 {
				rdb.Del(context.Background(), keys...)
			}
		})
		return NewRedisRateLimiter(l, rdb, prefix)
	})
	t.Run("two instances share one budget", func(t *testing.T) {
		prefix := "authledger:test:rl-shared:" + time.Now().Format("150405.000000") + ":"
		a := NewRedisRateLimiter(RateLimits{PerClient: 10, PerClientBurst: 4}, rdb, prefix)
		b := NewRedisRateLimiter(RateLimits{PerClient: 10, PerClientBurst: 4}, rdb, prefix)
		now := time.Unix(2000, 0)
		n := 0
		for i := range 20 {
			r := a
			if i%2 == 1 {
				r = b
			}
			if _, ok := r.admit(context.Background(), "svc-a", "10.0.0.1", now); ok {
				n++
			}
		}
		if n != 4 {
			t.Fatalf("%d admitted across two instances, want the shared burst of 4", n)
		}
	})
	t.Run("a Redis outage falls back to in-process limits", func(t *testing.T) {
		dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
		t.Cleanup(func() { _ = dead.Close() })
		r := NewRedisRateLimiter(RateLimits{PerClient: 10, PerClientBurst: 3}, dead, "x:")
		now := time.Unix(1000, 0)
		n := 0
		for range 10 {
			if _, ok := r.admit(context.Background(), "svc-a", "10.0.0.1", now); ok {
				n++
			}
		}
		if n != 3 {
			t.Fatalf("%d admitted during an outage, want the local burst of 3", n)
		}
	})
}

func TestAnAssertionNamesItsClientForRateLimiting(t *testing.T) {
	t.Parallel()
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"svc-a","iss":"svc-a"}`))
	body := url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {"e30." + payload + ".sig"}}
	req, _ := http.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := parseOAuthForm(req); err != nil {
		t.Fatal(err)
	}
	cred, err := credentialsFrom(req)
	if err != nil || cred.ClientID != "svc-a" {
		t.Fatalf("client id %q, err %v", cred.ClientID, err)
	}
}
