package verifier_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/authledger/authledger/client/verifier"
)

type observations struct {
	mu  sync.Mutex
	got map[[2]string]int
}

func (o *observations) ObserveVerification(_ time.Duration, result, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got[[2]string{result, reason}]++
}

// Every verification reaches the Observer with a bounded reason, and
// verifiers may share one.
func TestVerifiersReportEachVerificationToTheirObserver(t *testing.T) {
	t.Parallel()
	obs := &observations{got: map[[2]string]int{}}
	for range 2 {
		v, err := verifier.New(verifier.Config{Issuer: "https://issuer.test", AnyAudience: true, Keys: verifier.NewKeySet(nil), Observer: obs})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(context.Background(), "not-a-jwt"); err == nil {
			t.Fatal("a malformed token verified")
		}
	}
	if n := obs.got[[2]string{"error", "malformed"}]; n != 2 {
		t.Fatalf("malformed verifications observed: %d, want 2 (%v)", n, obs.got)
	}
	for _, tt := range []struct {
		err  error
		want string
	}{{nil, "none"}, {verifier.ErrExpired, "expired"}, {verifier.ErrKeyRevoked, "revoked"}, {verifier.ErrJWKSStale, "jwks_unavailable"}} {
		if got := verifier.Reason(tt.err); got != tt.want {
			t.Errorf("Reason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
