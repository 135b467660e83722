package infisical_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/authledger/authledger/secrets"
	"github.com/authledger/authledger/secrets/infisical"
	"github.com/authledger/authledger/secrets/secretstest"
	"github.com/authledger/authledger/tests/infisicalfake"
)

const (
	project      = "proj-authledger"
	devClient    = "dev-client-id"
	devSecret    = "dev-client-secret-Zq8"
	prodClient   = "prod-client-id"
	prodSecret   = "prod-client-secret-Pw3"
	k8sIdentity  = "identity-k8s"
	k8sJWT       = "eyJhbGciOiJSUzI1NiJ9.k8s-service-account.sig"
	devPath      = "/authledger"
	prodPath     = "/authledger"
	humanOnlyDir = "/authledger-human"
)

// newFake starts a fake with a dev and a prod identity, each allowed only
// its own environment's folder, as docs/infisical/ sets them up.
func newFake(t *testing.T) *infisicalfake.Server {
	t.Helper()
	f := infisicalfake.New(map[string][]string{project: {"dev", "staging", "prod"}})
	f.AddIdentity(infisicalfake.Identity{ID: "identity-dev", ClientID: devClient, ClientSecret: devSecret,
		Privileges: []infisicalfake.Privilege{{Project: project, Environment: "dev", Path: devPath, Write: true}}})
	f.AddIdentity(infisicalfake.Identity{ID: "identity-prod", ClientID: prodClient, ClientSecret: prodSecret,
		Privileges: []infisicalfake.Privilege{{Project: project, Environment: "prod", Path: prodPath, Write: true}}})
	f.AddIdentity(infisicalfake.Identity{ID: k8sIdentity, KubernetesJWT: k8sJWT,
		Privileges: []infisicalfake.Privilege{{Project: project, Environment: "staging", Path: "/authledger", Write: true}}})
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	return f
}

func devOptions(f *infisicalfake.Server) infisical.Options {
	return infisical.Options{SiteURL: f.URL(), Project: project, Environment: "dev", Path: devPath,
		Auth:      infisical.Auth{ClientID: devClient, ClientSecret: secrets.NewValue([]byte(devSecret))},
		RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond, CallTimeout: 2 * time.Second}
}

func open(t *testing.T, opts infisical.Options) *infisical.Provider {
	t.Helper()
	p, err := infisical.Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// The shared contract, through the real SDK, against the fake.
func TestContractAgainstTheFake(t *testing.T) {
	secretstest.Run(t, func(t *testing.T) secrets.Provider {
		return open(t, devOptions(newFake(t)))
	})
}

// The same contract against a real Infisical, when one is configured:
//
//	AUTHLEDGER_TEST_INFISICAL_URL=https://… AUTHLEDGER_TEST_INFISICAL_PROJECT=<id> \
//	AUTHLEDGER_TEST_INFISICAL_ENV=dev AUTHLEDGER_TEST_INFISICAL_PATH=/authledger-test \
//	AUTHLEDGER_TEST_INFISICAL_CLIENT_ID=… AUTHLEDGER_TEST_INFISICAL_CLIENT_SECRET=… \
//	go test -run Real ./secrets/infisical/
//
// Each subtest works in its own folder under the path, and deletes what
// it wrote.
func TestContractAgainstARealInfisical(t *testing.T) {
	site := os.Getenv("AUTHLEDGER_TEST_INFISICAL_URL")
	if site == "" {
		t.Skip("AUTHLEDGER_TEST_INFISICAL_URL is not set: no real Infisical to test against (the fake covers the same contract)")
	}
	base := os.Getenv("AUTHLEDGER_TEST_INFISICAL_PATH")
	if base == "" {
		base = "/authledger-test"
	}
	n := 0
	secretstest.Run(t, func(t *testing.T) secrets.Provider {
		n++
		opts := infisical.Options{SiteURL: site, Project: os.Getenv("AUTHLEDGER_TEST_INFISICAL_PROJECT"),
			Environment: os.Getenv("AUTHLEDGER_TEST_INFISICAL_ENV"), Path: fmt.Sprintf("%s/run-%d-%d", base, time.Now().Unix(), n),
			Auth: infisical.Auth{ClientID: os.Getenv("AUTHLEDGER_TEST_INFISICAL_CLIENT_ID"),
				ClientSecret: secrets.NewValue([]byte(os.Getenv("AUTHLEDGER_TEST_INFISICAL_CLIENT_SECRET")))}}
		p := open(t, opts)
		t.Cleanup(func() {
			names, _ := p.List(context.Background(), "")
			for _, name := range names {
				_ = p.Delete(context.Background(), name)
			}
		})
		return p
	})
}

func TestNamesMapOntoFoldersAndValuesAreBase64(t *testing.T) {
	f := newFake(t)
	p := open(t, devOptions(f))
	v, err := p.Put(context.Background(), "signing-key/kid-1", []byte{0, 1, 2, 0xff})
	if err != nil {
		t.Fatal(err)
	}
	got, n, ok := f.Value(project, "dev", devPath+"/signing-key", "kid-1")
	if !ok || got != "AAEC/w==" || fmt.Sprint(n) != v {
		t.Fatalf("stored %q v%d (ok %v), provider said v%s", got, n, ok, v)
	}
}

func TestAValueNotWrittenByAuthledgerIsCorruptAndNotEchoed(t *testing.T) {
	f := newFake(t)
	p := open(t, devOptions(f))
	f.SetSecret(project, "dev", devPath, "typed-by-hand", "not base64 !! hunter2")
	_, err := p.Get(context.Background(), "typed-by-hand")
	if !errors.Is(err, secrets.ErrCorrupt) || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v", err)
	}
}

func TestScoping(t *testing.T) {
	f := newFake(t)
	ctx := context.Background()
	t.Run("a dev identity cannot read or write a prod path", func(t *testing.T) {
		prodWriter := open(t, infisical.Options{SiteURL: f.URL(), Project: project, Environment: "prod", Path: prodPath,
			Auth: infisical.Auth{ClientID: prodClient, ClientSecret: secrets.NewValue([]byte(prodSecret))}})
		if _, err := prodWriter.Put(ctx, "refresh-sealing-key", []byte("prod")); err != nil {
			t.Fatal(err)
		}
		opts := devOptions(f)
		opts.Environment = "prod"
		devOnProd := open(t, opts) // the login itself succeeds: it is the identity's privileges that stop it
		if _, err := devOnProd.Get(ctx, "refresh-sealing-key"); !errors.Is(err, secrets.ErrDenied) {
			t.Fatalf("dev identity reading prod: %v", err)
		}
		if _, err := devOnProd.Put(ctx, "refresh-sealing-key", []byte("x")); !errors.Is(err, secrets.ErrDenied) {
			t.Fatalf("dev identity writing prod: %v", err)
		}
		if v, n, _ := f.Value(project, "prod", prodPath, "refresh-sealing-key"); n != 1 || v != "cHJvZA==" {
			t.Fatalf("prod secret changed: %q v%d", v, n)
		}
	})
	t.Run("the identity's own environment outside its folder is denied", func(t *testing.T) {
		opts := devOptions(f)
		opts.Path = humanOnlyDir
		p := open(t, opts)
		if _, err := p.Put(ctx, "x", []byte("v")); !errors.Is(err, secrets.ErrDenied) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a denial is not retried and does not open the breaker", func(t *testing.T) {
		opts := devOptions(f)
		opts.Environment = "prod"
		opts.BreakerFailures = 2
		p := open(t, opts)
		before := f.Requests("GET /api/v3/secrets/raw/x")
		for range 5 {
			_, _ = p.Get(ctx, "x")
		}
		if n := f.Requests("GET /api/v3/secrets/raw/x") - before; n != 5 {
			t.Fatalf("%d requests for 5 denied reads, want 5 (no retry, breaker closed)", n)
		}
		if p.Health(ctx) != nil {
			t.Fatalf("health = %v after denials", p.Health(ctx))
		}
	})
}

func TestAuthentication(t *testing.T) {
	ctx := context.Background()
	t.Run("wrong credentials refuse start-up with ErrDenied and never print the secret", func(t *testing.T) {
		f := newFake(t)
		opts := devOptions(f)
		opts.Auth.ClientSecret = secrets.NewValue([]byte("wrong-secret-Kx9"))
		_, err := infisical.Open(ctx, opts)
		if !errors.Is(err, secrets.ErrDenied) || strings.Contains(fmt.Sprintf("%v %+v", err, opts), "wrong-secret-Kx9") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("kubernetes auth reads the service-account token file", func(t *testing.T) {
		f := newFake(t)
		tokenPath := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(tokenPath, []byte(k8sJWT), 0o600); err != nil {
			t.Fatal(err)
		}
		p := open(t, infisical.Options{SiteURL: f.URL(), Project: project, Environment: "staging", Path: "/authledger",
			Auth: infisical.Auth{KubernetesIdentityID: k8sIdentity, KubernetesTokenPath: tokenPath}})
		if _, err := p.Put(ctx, "a", []byte("1")); err != nil {
			t.Fatal(err)
		}
		if f.Requests("POST /api/v1/auth/kubernetes-auth/login") != 1 {
			t.Fatal("no kubernetes login")
		}
	})
	t.Run("an access token is renewed before it expires", func(t *testing.T) {
		f := newFake(t)
		f.TokenTTL = 7 * time.Second // the SDK renews 5 s before expiry
		p := open(t, devOptions(f))
		deadline := time.Now().Add(30 * time.Second)
		for f.Requests("POST /api/v1/auth/token/renew") == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the access token was never renewed")
			}
			time.Sleep(50 * time.Millisecond)
		}
		if _, err := p.Put(ctx, "after-renewal", []byte("v")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("an expired token gets one fresh login", func(t *testing.T) {
		f := newFake(t)
		p := open(t, devOptions(f))
		f.ExpireTokens()
		if _, err := p.Put(ctx, "k", []byte("v")); err != nil {
			t.Fatal(err)
		}
		if n := f.Requests("POST /api/v1/auth/universal-auth/login"); n < 2 {
			t.Fatalf("%d logins, want a second one", n)
		}
	})
}

func TestFailures(t *testing.T) {
	ctx := context.Background()
	for _, st := range []int{429, 500, 502, 503} {
		t.Run(fmt.Sprintf("%d is retried", st), func(t *testing.T) {
			f := newFake(t)
			p := open(t, devOptions(f))
			f.FailNext(2, st)
			if _, err := p.Put(ctx, "k", []byte("v")); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("a dropped connection is retried", func(t *testing.T) {
		f := newFake(t)
		p := open(t, devOptions(f))
		f.DropNext(2)
		if _, err := p.Put(ctx, "k", []byte("v")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("404 is ErrNotFound and not retried", func(t *testing.T) {
		f := newFake(t)
		p := open(t, devOptions(f))
		before := f.Requests("GET /api/v3/secrets/raw/nope")
		if _, err := p.Get(ctx, "nope"); !errors.Is(err, secrets.ErrNotFound) {
			t.Fatal(err)
		}
		if f.Requests("GET /api/v3/secrets/raw/nope")-before != 1 {
			t.Fatal("a 404 was retried")
		}
	})
	t.Run("a slow answer is cut at the call timeout and reported unavailable", func(t *testing.T) {
		f := newFake(t)
		opts := devOptions(f)
		// Generous enough for the login on a busy machine; the slow answer
		// is far slower.
		opts.CallTimeout = time.Second
		opts.Retries = -1
		p := open(t, opts)
		f.SetLatency(20 * time.Second)
		_, err := p.Get(ctx, "slow")
		if !errors.Is(err, secrets.ErrUnavailable) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("persistent failure opens the breaker, which stops calling and closes after recovery", func(t *testing.T) {
		f := newFake(t)
		reg := prometheus.NewRegistry()
		opts := devOptions(f)
		opts.BreakerFailures, opts.BreakerOpenFor, opts.Retries, opts.Registerer = 3, 300*time.Millisecond, -1, reg
		p := open(t, opts)
		f.FailNext(1000, 503)
		for range 3 {
			_, _ = p.Get(ctx, "x")
		}
		before := f.Requests("GET /api/v3/secrets/raw/x")
		if _, err := p.Get(ctx, "x"); !errors.Is(err, secrets.ErrUnavailable) {
			t.Fatalf("err = %v", err)
		}
		if f.Requests("GET /api/v3/secrets/raw/x") != before {
			t.Fatal("an open breaker let a call through")
		}
		var d *infisical.Degraded
		if err := p.Health(ctx); !errors.As(err, &d) {
			t.Fatalf("health = %v", err)
		}
		if g := testutil.ToFloat64(gaugeOf(t, reg, "authledger_infisical_breaker_state")); g != 2 {
			t.Fatalf("breaker gauge %v, want 2 (open)", g)
		}
		f.ClearFaults()
		deadline := time.Now().Add(20 * time.Second)
		for {
			if _, err := p.Put(ctx, "x", []byte("back")); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the breaker never closed after recovery")
			}
			time.Sleep(50 * time.Millisecond)
		}
		if p.Health(ctx) != nil {
			t.Fatalf("health = %v after recovery", p.Health(ctx))
		}
	})
}

func gaugeOf(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name})
			g.Set(mf.GetMetric()[0].GetGauge().GetValue())
			return g
		}
	}
	t.Fatalf("no metric %s", name)
	return nil
}

func TestTheCache(t *testing.T) {
	ctx := context.Background()
	t.Run("reads within the TTL do not call Infisical", func(t *testing.T) {
		f := newFake(t)
		p := open(t, devOptions(f))
		_, _ = p.Put(ctx, "k", []byte("v"))
		_, _ = p.Get(ctx, "k")
		before := f.Requests("GET /api/v3/secrets/raw/k")
		for range 10 {
			if _, err := p.Get(ctx, "k"); err != nil {
				t.Fatal(err)
			}
		}
		if f.Requests("GET /api/v3/secrets/raw/k") != before {
			t.Fatal("a cached read called Infisical")
		}
	})
	t.Run("after the TTL a change made in Infisical is seen", func(t *testing.T) {
		f := newFake(t)
		opts := devOptions(f)
		opts.CacheTTL = 50 * time.Millisecond
		p := open(t, opts)
		_, _ = p.Put(ctx, "k", []byte("one"))
		_, _ = p.Get(ctx, "k")
		f.SetSecret(project, "dev", devPath, "k", "dHdv") // "two"
		deadline := time.Now().Add(10 * time.Second)
		for {
			s, err := p.Get(ctx, "k")
			if err == nil && string(s.Value.Bytes()) == "two" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the change was never seen")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	t.Run("while Infisical is down a cached value is served and health is degraded", func(t *testing.T) {
		f := newFake(t)
		opts := devOptions(f)
		opts.CacheTTL = time.Millisecond
		p := open(t, opts)
		_, _ = p.Put(ctx, "k", []byte("v"))
		v1, _ := p.Get(ctx, "k")
		f.Stop()
		time.Sleep(5 * time.Millisecond)
		s, err := p.Get(ctx, "k")
		if err != nil || string(s.Value.Bytes()) != "v" {
			t.Fatalf("stale read: %v", err)
		}
		if s, err := p.GetVersion(ctx, "k", v1.Version); err != nil || string(s.Value.Bytes()) != "v" {
			t.Fatalf("pinned read: %v", err)
		}
		var d *infisical.Degraded
		if err := p.Health(ctx); !errors.As(err, &d) {
			t.Fatalf("health = %v", err)
		}
		if _, err := p.Put(ctx, "k", []byte("w")); !errors.Is(err, secrets.ErrUnavailable) {
			t.Fatalf("a write while down: %v", err)
		}
		if _, err := p.Get(ctx, "never-read"); !errors.Is(err, secrets.ErrUnavailable) {
			t.Fatalf("an uncached read while down: %v", err)
		}
	})
	t.Run("one HTTP client reuses its connections", func(t *testing.T) {
		f := newFake(t)
		opts := devOptions(f)
		opts.CacheTTL = time.Nanosecond
		p := open(t, opts)
		_, _ = p.Put(ctx, "k", []byte("v"))
		before := f.Connections()
		for range 50 {
			if _, err := p.Get(ctx, "k"); err != nil {
				t.Fatal(err)
			}
		}
		if n := f.Connections() - before; n > 1 {
			t.Fatalf("%d new connections for 50 sequential reads", n)
		}
	})
	t.Run("invalidating a folder drops its entries and re-reads them", func(t *testing.T) {
		f := newFake(t)
		p := open(t, devOptions(f))
		_, _ = p.Put(ctx, "signing-key/a", []byte("one"))
		_, _ = p.Get(ctx, "signing-key/a")
		f.SetSecret(project, "dev", devPath+"/signing-key", "a", "dHdv")
		if !p.Covers(project, "dev", devPath+"/signing-key") || p.Covers(project, "prod", devPath) || p.Covers("other", "dev", devPath) ||
			p.Covers(project, "dev", "/elsewhere") {
			t.Fatal("Covers is wrong")
		}
		if n := p.Invalidate(devPath + "/signing-key"); n != 1 {
			t.Fatalf("invalidated %d entries", n)
		}
		s, err := p.Get(ctx, "signing-key/a")
		if err != nil || !bytes.Equal(s.Value.Bytes(), []byte("two")) {
			t.Fatalf("after invalidation: %v", err)
		}
	})
}

func TestOpenRefusesWhenInfisicalIsDown(t *testing.T) {
	f := newFake(t)
	f.Stop()
	opts := devOptions(f)
	opts.Retries = 1
	_, err := infisical.Open(context.Background(), opts)
	if !errors.Is(err, secrets.ErrUnavailable) || !strings.Contains(err.Error(), "start-up refused") {
		t.Fatalf("err = %v", err)
	}
	if u, _ := url.Parse(f.URL()); strings.Contains(err.Error(), devSecret) || u == nil {
		t.Fatalf("err = %v", err)
	}
}

// BenchmarkGet is a read of the newest version: from the cache, and
// through the SDK to the fake over loopback (every read a miss).
func BenchmarkGet(b *testing.B) {
	f := infisicalfake.New(map[string][]string{project: {"dev"}})
	f.AddIdentity(infisicalfake.Identity{ID: "identity-dev", ClientID: devClient, ClientSecret: devSecret,
		Privileges: []infisicalfake.Privilege{{Project: project, Environment: "dev", Path: devPath, Write: true}}})
	if err := f.Start(); err != nil {
		b.Fatal(err)
	}
	defer f.Stop()
	for _, tc := range []struct {
		name string
		ttl  time.Duration
	}{{"cached", time.Hour}, {"uncached", time.Nanosecond}} {
		b.Run(tc.name, func(b *testing.B) {
			opts := devOptions(f)
			opts.CacheTTL = tc.ttl
			p, err := infisical.Open(context.Background(), opts)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			if _, err := p.Put(context.Background(), "refresh-sealing-key", make([]byte, 32)); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, err := p.Get(context.Background(), "refresh-sealing-key"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
