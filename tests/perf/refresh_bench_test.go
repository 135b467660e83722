package perf_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
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
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/readmodels/jwks"
	"github.com/authledger/authledger/readmodels/services"
	"github.com/authledger/authledger/replayguard"
	"github.com/authledger/authledger/secrets/local"
	"github.com/authledger/authledger/sessionstore"
)

// refreshStack is the real refresh_token grant over HTTP: client
// authentication (client_secret_basic), the token service reading and
// appending the family stream with its expected version, and the JWT
// signer recording each access token in the ledger.
type refreshStack struct {
	srv          *httptest.Server
	start        *commands.StartSessionHandler
	clientID     string
	clientSecret string
}

func newRefreshStack(b *testing.B, store eventstore.Store) *refreshStack {
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
	if _, err := keys.Rotate(ctx, commands.RotateKeys{Immediately: true}, commands.Metadata{Actor: "bench"}); err != nil {
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
	svcs, err := commands.NewServices(commands.ServicesConfig{Store: store, Pepper: testPepper})
	if err != nil {
		b.Fatal(err)
	}
	res, err := svcs.Register(ctx, commands.RegisterService{Name: "native-app", Scopes: []string{"sessions:create"}}, commands.Metadata{})
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
	codec, err := commands.LoadRefreshCodec(ctx, sp, nil)
	if err != nil {
		b.Fatal(err)
	}
	rules, err := commands.NewTokenRules(benchIssuer, nil, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	live, sealer := sessionstore.NewMemory(nil), commands.NewRefreshSealer(codec, nil)
	refresh, err := commands.NewRefreshHandler(commands.Families(store), &commands.FamilyCache{}, commands.Sessions(store), signer, sealer, rules, 0, nopPublisher{}, live)
	if err != nil {
		b.Fatal(err)
	}
	te, err := api.NewTokenEndpoint(api.NewClientAuthenticator(auth, nil), api.NewRefreshGrant(refresh))
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Config{}, te))
	b.Cleanup(srv.Close)
	return &refreshStack{srv: srv, start: commands.NewStartSessionHandler(store, live, signer, sealer, rules), clientID: string(res.Client.ID), clientSecret: res.ClientSecret}
}

// runRefreshes has conc clients, each with its own family, spend b.N
// refresh tokens in total, each presenting the successor it was just given.
func runRefreshes(b *testing.B, s *refreshStack, conc int) {
	ctx := context.Background()
	tokens := make([]string, conc)
	for i := range tokens {
		st, err := s.start.Handle(ctx, commands.StartSession{ClientID: s.clientID, Subject: fmt.Sprintf("user-%d", i), ACR: "aal1"}, commands.Metadata{})
		if err != nil {
			b.Fatal(err)
		}
		tokens[i] = st.RefreshToken
	}
	tr := &http.Transport{MaxIdleConns: conc * 2, MaxIdleConnsPerHost: conc * 2}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	b.ResetTimer()
	cpu0, wall0 := cpuTime(), time.Now()
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rt := tokens[w]
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				body := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()
				req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/oauth2/token", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(s.clientID, s.clientSecret)
				t0 := time.Now()
				resp, err := hc.Do(req)
				var out struct {
					RefreshToken string `json:"refresh_token"`
				}
				if err == nil {
					raw, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d: %s", resp.StatusCode, raw)
					} else {
						err = json.Unmarshal(raw, &out)
					}
				}
				lat[i] = time.Since(t0)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					return
				}
				rt = out.RefreshToken
			}
		}()
	}
	wg.Wait()
	wall, cpu := time.Since(wall0), cpuTime()-cpu0
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d refreshes failed; first: %v", n, firstErr.Load())
	}
	reportLatency(b, lat)
	b.ReportMetric(float64(b.N)/wall.Seconds(), "refreshes/s")
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "refreshes/cpu-s")
}

// BenchmarkRefreshGrant is the DESIGN.md §6 bar "refresh grant with a
// durable ledger: p95 < 50 ms", 16 concurrent clients:
//
//	go test -run '^$' -bench RefreshGrant -benchtime 4000x ./tests/perf/
func BenchmarkRefreshGrant(b *testing.B) {
	for _, l := range benchLedgers {
		b.Run(l.name+"/clients-16", func(b *testing.B) {
			store := l.open(b)
			b.Cleanup(func() { _ = store.Close() })
			runRefreshes(b, newRefreshStack(b, store), 16)
		})
	}
}

// nopPublisher: one instance, nobody to tell about revocations.
type nopPublisher struct{}

func (nopPublisher) PublishRevocation(context.Context, string, string, time.Time) error { return nil }
