package verifier_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/authledger/authledger/client/dpop"
	"github.com/authledger/authledger/client/verifier"
)

// BenchmarkVerifyRequestDPoP compares VerifyRequest on a DPoP-bound token
// with its proof (two Ed25519 verifications, a thumbprint and a replay
// cache claim) against VerifyRequest on a bearer token, interleaved in one
// run so both see the same machine load, in alternating order. Only the
// VerifyRequest calls are timed; making each request's fresh proof is not. The bar:
// dpop-p95 ≤ 2.2 × bearer-p95 (p95-ratio).
func BenchmarkVerifyRequestDPoP(b *testing.B) {
	for _, alg := range []string{"EdDSA", "ES256"} {
		b.Run(alg, func(b *testing.B) { benchVerifyRequest(b, alg) })
	}
}

func benchVerifyRequest(b *testing.B, alg string) {
	issuer := newTestKey(b, "k1")
	set, _ := verifier.ParseJWKS([]byte(issuer.jwks()))
	key := newDPoPKey(b)
	if alg == "ES256" {
		key = newES256Key(b)
	}
	clock := time.Now()
	exp := clock.Add(time.Hour).Unix()
	bound := issuer.sign(map[string]any{"cnf": map[string]any{"jkt": key.Thumbprint()}, "exp": exp, "iat": clock.Unix()})
	plain := issuer.sign(map[string]any{"exp": exp, "iat": clock.Unix()})
	pc, err := verifier.NewProofChecker(verifier.ProofConfig{Replay: verifier.NewMemoryReplayCache(nil)})
	if err != nil {
		b.Fatal(err)
	}
	v, err := verifier.New(verifier.Config{Issuer: "https://auth.example", Audiences: []string{"api"}, Keys: set, Leeway: 5 * time.Second, DPoP: pc})
	if err != nil {
		b.Fatal(err)
	}
	bearerReq := httptest.NewRequest(http.MethodGet, htu, nil)
	bearerReq.Header.Set("Authorization", "Bearer "+plain)
	var bearerD, dpopD []time.Duration
	i := 0
	for b.Loop() {
		p, err := key.Proof("GET", htu, dpop.ProofOptions{AccessToken: bound})
		if err != nil {
			b.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodGet, htu, nil)
		r.Header.Set("Authorization", "DPoP "+bound)
		r.Header.Set("DPoP", p)
		r.TLS = bearerReq.TLS
		// Which one runs first alternates, so neither always meets the
		// garbage the proof's making left behind.
		first, second := r, bearerReq
		if i%2 == 1 {
			first, second = bearerReq, r
		}
		i++
		t0 := time.Now()
		if _, err := v.VerifyRequest(first); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := v.VerifyRequest(second); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if first == r {
			dpopD, bearerD = append(dpopD, t1.Sub(t0)), append(bearerD, t2.Sub(t1))
		} else {
			bearerD, dpopD = append(bearerD, t1.Sub(t0)), append(dpopD, t2.Sub(t1))
		}
	}
	p95 := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[int(0.95*float64(len(d)-1))].Nanoseconds()) / 1e3
	}
	p50 := func(d []time.Duration) float64 { return float64(d[int(0.50*float64(len(d)-1))].Nanoseconds()) / 1e3 }
	bp, dp := p95(bearerD), p95(dpopD)
	b.ReportMetric(p50(bearerD), "bearer-p50-µs")
	b.ReportMetric(bp, "bearer-p95-µs")
	b.ReportMetric(p50(dpopD), "dpop-p50-µs")
	b.ReportMetric(dp, "dpop-p95-µs")
	b.ReportMetric(dp/bp, "p95-ratio")
}
