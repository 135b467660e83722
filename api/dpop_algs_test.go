package api_test

import (
	"slices"
	"testing"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/client/verifier"
)

// api cannot import client/verifier, so it keeps its own copy of the
// algorithms for the metadata and the challenges; they must not drift
// from what the checker accepts.
func TestDPoPAlgsAreTheVerifiers(t *testing.T) {
	t.Parallel()
	if !slices.Equal(api.DPoPAlgs, verifier.DPoPAlgs) {
		t.Fatalf("api advertises %v, the verifier accepts %v", api.DPoPAlgs, verifier.DPoPAlgs)
	}
	if got := api.NewAuthServerMetadata("https://as.test").DPoPSigningAlgValuesSupported; !slices.Equal(got, verifier.DPoPAlgs) {
		t.Fatalf("metadata lists %v", got)
	}
}
