package verifier_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authledger/authledger/client/verifier"
)

func TestVerifiersSharingARegistererShareTheLatencySeries(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	var vs []*verifier.Verifier
	for range 2 {
		v, err := verifier.New(verifier.Config{Issuer: "https://issuer.test", AnyAudience: true, Keys: verifier.NewKeySet(nil), Registerer: reg})
		if err != nil {
			t.Fatalf("second verifier on one registerer: %v", err)
		}
		vs = append(vs, v)
	}
	for _, v := range vs {
		if _, err := v.Verify(context.Background(), "not-a-jwt"); err == nil {
			t.Fatal("a malformed token verified")
		}
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got uint64
	for _, f := range fams {
		if f.GetName() != "authledger_jwt_verification_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["result"] == "error" && labels["reason"] == "malformed" {
				got += m.GetHistogram().GetSampleCount()
			}
		}
	}
	if got != 2 {
		t.Fatalf("malformed verifications observed: %d, want 2", got)
	}
}
