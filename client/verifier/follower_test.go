package verifier_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authledger/authledger/client/verifier"
)

// feed is a stand-in for authledger's GET /v1/revocations: entries in
// position order, long polls answered when an entry arrives, and a switch
// to fail the next calls.
type feed struct {
	mu      sync.Mutex
	entries []map[string]any
	head    uint64
	changed chan struct{}
	failing int // answer this many calls with 503 and Retry-After
	afters  []uint64
	calls   atomic.Int64
}

func newFeed() *feed { return &feed{changed: make(chan struct{})} }

func (f *feed) add(typ, id string, until time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.head++
	f.entries = append(f.entries, map[string]any{"position": f.head, "type": typ, "id": id, "until": until})
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *feed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	wait, _ := strconv.ParseFloat(r.URL.Query().Get("wait"), 64)
	f.mu.Lock()
	f.afters = append(f.afters, after)
	if f.failing > 0 {
		f.failing--
		f.mu.Unlock()
		w.Header().Set("Retry-After", "0")
		http.Error(w, "stopping", http.StatusServiceUnavailable)
		return
	}
	f.mu.Unlock()
	deadline := time.After(time.Duration(wait * float64(time.Second)))
	for {
		f.mu.Lock()
		var out []map[string]any
		for _, e := range f.entries {
			if e["position"].(uint64) > after {
				out = append(out, e)
			}
		}
		head, ch := f.head, f.changed
		f.mu.Unlock()
		if len(out) > 0 || wait == 0 {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"entries": append([]map[string]any{}, out...), "cursor": head})
			return
		}
		select {
		case <-ch:
		case <-deadline:
			wait = 0
		case <-r.Context().Done():
			return
		}
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func startFollower(t *testing.T, cfg verifier.FollowerConfig) *verifier.Follower {
	t.Helper()
	f, err := verifier.NewFollower(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
	})
	return f
}

func TestFollowerFeedsTheVerifiersRevocationHook(t *testing.T) {
	k := newTestKey(t, "k1")
	set, _ := verifier.ParseJWKS([]byte(k.jwks()))
	fd := newFeed()
	until := time.Now().Add(time.Hour)
	fd.add("jti", "revoked-before-start", until)
	srv := httptest.NewServer(fd)
	t.Cleanup(srv.Close) // after the follower stops (cleanups run last first)
	// The verifier's clock is the fixed test time (token validity); the
	// follower's is real time, which the entries' until is relative to.
	fol := startFollower(t, verifier.FollowerConfig{URL: srv.URL + "/v1/revocations", Wait: 5 * time.Second})
	v, err := verifier.New(verifier.Config{Issuer: "https://auth.example", Audiences: []string{"api"}, Keys: set,
		Revocation: fol, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	select {
	case <-fol.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("no first poll within 10 s")
	}
	if _, err := v.Verify(ctx, k.sign(map[string]any{"jti": "revoked-before-start"})); !errors.Is(err, verifier.ErrRevoked) {
		t.Fatalf("a jti revoked before the follower started: %v", err)
	}
	live := k.sign(map[string]any{"jti": "live", "sid": "s1", "client_id": "svc-a"})
	if _, err := v.Verify(ctx, live); err != nil {
		t.Fatalf("a live token: %v", err)
	}
	// Each kind arrives on the parked long poll and is refused at once.
	for _, c := range []struct{ typ, id, claim string }{{"sid", "s2", "sid"}, {"client", "svc-b", "client_id"}, {"jti", "j3", "jti"}} {
		tok := k.sign(map[string]any{c.claim: c.id})
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("%s %s before revocation: %v", c.typ, c.id, err)
		}
		fd.add(c.typ, c.id, until)
		eventually(t, c.typ+" "+c.id+" refused", func() bool {
			_, err := v.Verify(ctx, tok)
			return errors.Is(err, verifier.ErrRevoked)
		})
	}
	if fol.Cursor() != 4 {
		t.Fatalf("cursor %d, want 4", fol.Cursor())
	}
	if _, err := v.Verify(ctx, live); err != nil {
		t.Fatalf("the live token after others' revocations: %v", err)
	}
}

func TestFollowerBacksOffAndResumesFromItsCursor(t *testing.T) {
	fd := newFeed()
	fd.add("jti", "a", time.Now().Add(time.Hour))
	srv := httptest.NewServer(fd)
	t.Cleanup(srv.Close) // after the follower stops (cleanups run last first)
	var errs atomic.Int64
	fol := startFollower(t, verifier.FollowerConfig{URL: srv.URL, Wait: time.Second, MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		OnError: func(error) { errs.Add(1) }})
	eventually(t, "first poll", func() bool { return fol.Cursor() == 1 })
	fd.mu.Lock()
	fd.failing = 3
	fd.mu.Unlock()
	eventually(t, "three failures reported", func() bool { return errs.Load() >= 3 })
	fd.add("jti", "b", time.Now().Add(time.Hour))
	eventually(t, "b after the failures", func() bool { return fol.IsRevoked("b", "", "") })
	fd.mu.Lock()
	defer fd.mu.Unlock()
	at1 := 0
	for i, a := range fd.afters {
		if i > 0 && a < fd.afters[i-1] {
			t.Fatalf("the cursor went back: %v", fd.afters)
		}
		if a == 1 {
			at1++
		}
	}
	if at1 < 4 {
		t.Fatalf("the failed polls did not keep the cursor: %v", fd.afters)
	}
}

func TestFollowerFailsClosedBeforeItsFirstPollAndWhenStale(t *testing.T) {
	var up atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !up.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		_, _ = w.Write([]byte(`{"entries":[],"cursor":7}`))
	}))
	t.Cleanup(srv.Close) // after the follower stops (cleanups run last first)
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	fol := startFollower(t, verifier.FollowerConfig{URL: srv.URL, Wait: time.Second, MaxStale: time.Minute,
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	if !fol.IsRevoked("any", "", "") || !fol.IsClientRevoked("svc") {
		t.Fatal("before any successful poll a token was accepted")
	}
	up.Store(true)
	eventually(t, "first poll", func() bool { return fol.Cursor() == 7 })
	if fol.IsRevoked("any", "", "") || fol.IsClientRevoked("svc") {
		t.Fatal("after a successful poll an unrevoked token was refused")
	}
	up.Store(false)
	// The feed has failed since; two minutes on, what the follower holds
	// is too old to trust.
	clock.Add(int64(2 * time.Minute))
	if !fol.IsRevoked("any", "", "") {
		t.Fatal("a follower stale beyond MaxStale accepted a token")
	}
}

func TestFollowerConfigIsChecked(t *testing.T) {
	for name, cfg := range map[string]verifier.FollowerConfig{
		"no URL":               {},
		"not http":             {URL: "ftp://x/v1/revocations"},
		"MaxStale below Wait":  {URL: "https://a/v1/revocations", Wait: 10 * time.Second, MaxStale: 5 * time.Second},
		"MaxBackoff below Min": {URL: "https://a/v1/revocations", MinBackoff: time.Second, MaxBackoff: time.Millisecond},
	} {
		if _, err := verifier.NewFollower(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
