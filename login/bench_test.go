package login_test

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/authledger/authledger/eventstore/sqlite"
)

// BenchmarkPasskeySignIn is one whole passkey sign-in on a durable SQLite
// ledger: the options request, the assertion verification by go-webauthn,
// the credentials decision appended (used + signin_succeeded) and the
// session started through the POST /v1/sessions command (session, family
// and token-issued events, the access JWT signed). The software
// authenticator's ECDSA signature (tens of µs) is inside the measured
// time. It reports p50/p95/p99 per sign-in.
//
//	go test -run '^$' -bench PasskeySignIn -benchtime 2000x ./login/
func BenchmarkPasskeySignIn(b *testing.B) {
	store, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "ledger.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	f := newFixtureOn(b, store)
	a := newAuthenticator(b, rpID, origin)
	br := f.browser()
	if res := br.register(a, f.link("alice")); res.status != http.StatusCreated {
		b.Fatalf("register: %d %s", res.status, res.body)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		res := f.browser().signIn(a)
		lat = append(lat, time.Since(start))
		if res.status != http.StatusOK {
			b.Fatalf("sign-in: %d %s", res.status, res.body)
		}
	}
	b.StopTimer()
	reportQuantiles(b, lat)
}

func reportQuantiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.95), "p95-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}

// BenchmarkTokenExchange is one RFC 8693 exchange of a fresh upstream ID
// token on a durable SQLite ledger: the JWS verified by go-oidc against
// the upstream's JWKS (fetched once, then cached), the replay claim, the
// upstream.signed_in event and the session start (access JWT signed,
// refresh token sealed). Minting the ID token (an ES256 signature by the
// in-process upstream) is inside the measured time.
//
//	go test -run '^$' -bench TokenExchange -benchtime 2000x ./login/
func BenchmarkTokenExchange(b *testing.B) {
	store, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "ledger.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	d := newIDP(b)
	f := newFixtureOn(b, store, withUpstream(d))
	if code, body := exchange(f, "svc-app", d.token(d.claims("warm-up", "authledger"))); code != http.StatusOK {
		b.Fatalf("warm-up: %d %v", code, body)
	}
	lat := make([]time.Duration, 0, b.N)
	i := 0
	b.ResetTimer()
	for b.Loop() {
		i++
		start := time.Now()
		code, body := exchange(f, "svc-app", d.token(d.claims("u", "authledger")))
		lat = append(lat, time.Since(start))
		if code != http.StatusOK {
			b.Fatalf("exchange %d: %d %v", i, code, body)
		}
	}
	b.StopTimer()
	reportQuantiles(b, lat)
}
