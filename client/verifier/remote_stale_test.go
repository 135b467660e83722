package verifier_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authledger/authledger/client/verifier"
)

// testClock is safe for the background refresh goroutine to read.
type testClock struct{ ns atomic.Int64 }

func newTestClock(t time.Time) *testClock {
	c := &testClock{}
	c.ns.Store(t.UnixNano())
	return c
}
func (c *testClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *testClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
func (c *testClock) Set(t time.Time)         { c.ns.Store(t.UnixNano()) }

func TestRemoteFailsClosedWhenTheCachedSetIsTooStale(t *testing.T) {
	k := newTestKey(t, "k1")
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		// The issuer's RFC 7517 §8.5.1 media type must be accepted.
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "max-age=600")
		_, _ = w.Write([]byte(k.jwks()))
	}))
	defer srv.Close()
	clock := newTestClock(now)
	remote, err := verifier.NewRemote(verifier.RemoteConfig{URL: srv.URL, Now: clock.Now, MaxStale: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := remote.Key(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	fetchedAt := clock.Now()
	down.Store(true)

	steps := []struct {
		name    string
		at      time.Duration // after the last good fetch
		wantErr error
	}{
		{"a set past max-age is still served while the endpoint is down", 11 * time.Minute, nil},
		{"a set just inside max-age + MaxStale is still served", 10*time.Minute + time.Hour - time.Second, nil},
		{"a set at max-age + MaxStale fails closed", 10*time.Minute + time.Hour, verifier.ErrJWKSStale},
		{"it stays closed while refreshes are rate-limited", 10*time.Minute + time.Hour + time.Second, verifier.ErrJWKSStale},
		{"it stays closed a day later", 34 * time.Hour, verifier.ErrJWKSStale},
	}
	for _, s := range steps {
		clock.Set(fetchedAt.Add(s.at))
		_, err := remote.Key(ctx, "k1")
		if (s.wantErr == nil && err != nil) || (s.wantErr != nil && !errors.Is(err, s.wantErr)) {
			t.Fatalf("%s: err = %v, want %v", s.name, err, s.wantErr)
		}
	}

	down.Store(false)
	clock.Advance(time.Minute) // past the refresh rate limit
	if _, err := remote.Key(ctx, "k1"); err != nil {
		t.Fatalf("a successful refresh must reopen the cache: %v", err)
	}
}

func TestRemoteStaleErrorReachesTheVerifier(t *testing.T) {
	k := newTestKey(t, "k1")
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(k.jwks()))
	}))
	defer srv.Close()
	clock := newTestClock(now)
	// Defaults: max-age 5 min, MaxStale 1 h.
	remote, _ := verifier.NewRemote(verifier.RemoteConfig{URL: srv.URL, Now: clock.Now})
	v := newV(t, remote)
	ctx := context.Background()
	if _, err := v.Verify(ctx, k.sign(nil)); err != nil {
		t.Fatal(err)
	}
	down.Store(true)
	clock.Advance(5*time.Minute + time.Hour)
	if _, err := v.Verify(ctx, k.sign(nil)); !errors.Is(err, verifier.ErrJWKSStale) {
		t.Fatalf("Verify = %v, want ErrJWKSStale", err)
	}
}
