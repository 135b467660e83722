package perf_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authledger/authledger/client/dpop"
)

// BenchmarkClientCredentialsDPoP runs plain and DPoP-bound
// client_credentials grants on one stack in alternating rounds at
// concurrency 32, so both see the same machine, and reports each one's
// throughput and their ratio (dpop/plain). The proofs are made before
// each round (the client's cost, not the server's); the server checks
// each one, claims its jti and records the thumbprint in the ledger.
//
//	go test -run '^$' -bench ClientCredentialsDPoP -benchtime 4000x ./tests/perf/
func BenchmarkClientCredentialsDPoP(b *testing.B) {
	for _, l := range benchLedgers {
		b.Run(l.name, func(b *testing.B) {
			store := l.open(b)
			s := newCCStack(b, store)
			b.Cleanup(func() { _ = store.Close() })
			key, err := dpop.NewKey()
			if err != nil {
				b.Fatal(err)
			}
			const conc, rounds = 32, 10
			per := max(b.N/(2*rounds), conc)
			var plainWall, dpopWall time.Duration
			var plainLat, dpopLat []time.Duration
			b.ResetTimer()
			for range rounds {
				w, lat := grantRound(b, s, conc, make([]string, per))
				plainWall, plainLat = plainWall+w, append(plainLat, lat...)
				b.StopTimer()
				proofs := make([]string, per)
				for i := range proofs {
					if proofs[i], err = key.Proof(http.MethodPost, benchIssuer+"/oauth2/token", dpop.ProofOptions{}); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				w, lat = grantRound(b, s, conc, proofs)
				dpopWall, dpopLat = dpopWall+w, append(dpopLat, lat...)
			}
			b.StopTimer()
			n := float64(per * rounds)
			plain, bound := n/plainWall.Seconds(), n/dpopWall.Seconds()
			b.ReportMetric(plain, "plain-grants/s")
			b.ReportMetric(bound, "dpop-grants/s")
			b.ReportMetric(bound/plain, "dpop/plain")
			b.ReportMetric(p95ms(plainLat), "plain-p95-ms")
			b.ReportMetric(p95ms(dpopLat), "dpop-p95-ms")
		})
	}
}

func p95ms(d []time.Duration) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[int(0.95*float64(len(s)-1))].Microseconds()) / 1e3
}

// grantRound issues len(proofs) grants from conc workers, the i-th with
// DPoP proof proofs[i] ("" for a plain grant), and returns the wall time
// and the latencies. Every grant must succeed, bound ones as DPoP.
func grantRound(b *testing.B, s *ccStack, conc int, proofs []string) (time.Duration, []time.Duration) {
	tr := &http.Transport{MaxIdleConns: conc * 2, MaxIdleConnsPerHost: conc * 2}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	body := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}.Encode()
	lat := make([]time.Duration, len(proofs))
	var next, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	wall0 := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(proofs)) {
					return
				}
				req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/oauth2/token", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(s.clientID, s.clientSecret)
				if proofs[i] != "" {
					req.Header.Set("DPoP", proofs[i])
				}
				t0 := time.Now()
				resp, err := hc.Do(req)
				if err == nil {
					var buf [2048]byte
					n, _ := resp.Body.Read(buf[:])
					for {
						if _, rerr := resp.Body.Read(buf[n:]); rerr != nil {
							break
						}
					}
					resp.Body.Close()
					want := `"token_type":"Bearer"`
					if proofs[i] != "" {
						want = `"token_type":"DPoP"`
					}
					if resp.StatusCode != http.StatusOK || !strings.Contains(string(buf[:n]), want) {
						err = fmt.Errorf("status %d: %s", resp.StatusCode, buf[:n])
					}
				}
				lat[i] = time.Since(t0)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d grants failed: %v", n, len(proofs), firstErr.Load())
	}
	return time.Since(wall0), lat
}
