// Package perf holds load benchmarks. Run them with
//
//	go test -run '^$' -bench ClientCredentials -benchtime 4000x ./tests/perf/
//
// They are skipped by plain `go test` (no Test functions do the work).
package perf_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/internal/compose"
	"github.com/authledger/authledger/readmodels/jwks"
	"github.com/authledger/authledger/readmodels/services"
	"github.com/authledger/authledger/replayguard"
	"github.com/authledger/authledger/secrets/local"
)

const benchIssuer = "https://auth.bench"

// ccStack is the real token endpoint (client authentication, registry,
// JWT signer recording each issuance in the ledger) over one ledger.
type ccStack struct {
	srv          *httptest.Server
	clientID     string
	clientSecret string
}

func newCCStack(b *testing.B, store eventstore.Store) *ccStack {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	mk := make([]byte, 32)
	_, _ = rand.Read(mk)
	sp, err := local.Open(b.TempDir(), local.Options{MasterKey: mk})
	if err != nil {
		b.Fatal(err)
	}
	keys, err := commands.NewKeys(commands.KeysConfig{Store: store, Secrets: sp})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := keys.Tick(ctx, commands.Metadata{Actor: "bench"}); err != nil {
		b.Fatal(err)
	}
	model := jwks.New()
	if err := model.Reload(ctx, store); err != nil {
		b.Fatal(err)
	}
	signer, err := commands.NewJWTSigner(commands.JWTSignerConfig{Issuer: benchIssuer, Store: store, Secrets: sp, Keys: model})
	if err != nil {
		b.Fatal(err)
	}
	reg := services.New()
	go func() { _ = reg.Follow(ctx, store) }()
	svc, err := commands.NewServices(commands.ServicesConfig{Store: store, Pepper: testPepper})
	if err != nil {
		b.Fatal(err)
	}
	res, err := svc.Register(ctx, commands.RegisterService{Name: "bench", Scopes: []string{"read"}, Audiences: []string{"https://api.bench"}}, commands.Metadata{})
	if err != nil {
		b.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := reg.WaitFor(wctx, res.Position); err != nil {
		b.Fatal(err)
	}
	auth, err := commands.NewClientAuthenticator(commands.ClientAuthConfig{Directory: reg, Pepper: testPepper, Replay: replayguard.NewMemory(nil), Issuer: benchIssuer})
	if err != nil {
		b.Fatal(err)
	}
	cc, err := commands.NewClientCredentialsGrant(commands.ClientCredentialsConfig{Signer: signer, Issuer: benchIssuer})
	if err != nil {
		b.Fatal(err)
	}
	// No rate limiter: one client id at thousands of grants per second is
	// the load being measured, not an attack.
	te, err := api.NewTokenEndpoint(api.NewClientAuthenticator(auth, nil), api.NewClientCredentialsGrant(cc))
	if err != nil {
		b.Fatal(err)
	}
	dpopChecker, err := compose.NewDPoPChecker(replayguard.NewMemory(nil), nil) // plain requests never reach it
	if err != nil {
		b.Fatal(err)
	}
	te.WithDPoP(dpopChecker, nil, benchIssuer)
	srv := httptest.NewServer(api.New(api.Config{}, te))
	b.Cleanup(srv.Close)
	return &ccStack{srv: srv, clientID: string(res.Client.ID), clientSecret: res.ClientSecret}
}

// runGrants issues b.N client_credentials grants from conc workers and
// reports latency percentiles, throughput and grants per CPU-second. The
// CPU figure counts the whole process, load generator included, so it
// understates the server alone.
func runGrants(b *testing.B, s *ccStack, conc int) {
	tr := &http.Transport{MaxIdleConns: conc * 2, MaxIdleConnsPerHost: conc * 2}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	body := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}.Encode()
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	cpu0, wall0 := cpuTime(), time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/oauth2/token", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(s.clientID, s.clientSecret)
				t0 := time.Now()
				resp, err := hc.Do(req)
				if err == nil {
					var buf [2048]byte
					for {
						if _, rerr := resp.Body.Read(buf[:]); rerr != nil {
							break
						}
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				lat[i] = time.Since(t0)
				if err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	wall, cpu := time.Since(wall0), cpuTime()-cpu0
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d grants failed", n, b.N)
	}
	reportLatency(b, lat)
	b.ReportMetric(float64(b.N)/wall.Seconds(), "grants/s")
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "grants/cpu-s")
}

func BenchmarkClientCredentials(b *testing.B) {
	for _, l := range benchLedgers {
		for _, conc := range []int{1, 32} {
			b.Run(fmt.Sprintf("%s/concurrency-%d", l.name, conc), func(b *testing.B) {
				store := l.open(b)
				s := newCCStack(b, store)
				b.Cleanup(func() { _ = store.Close() })
				runGrants(b, s, conc)
			})
		}
	}
}

// testPepper keys the v2 client secret hashes in these tests.
var testPepper = func() client.Pepper {
	p, err := client.NewPepper([]byte("a test pepper of at least 32 bytes"))
	if err != nil {
		panic(err)
	}
	return p
}()
