package dpop_test

import (
	"fmt"
	"strings"

	"github.com/authledger/authledger/client/dpop"
)

// A proof for one token request: POST to the issuer's token endpoint.
// Send it as the DPoP header; the token that comes back carries the key's
// thumbprint in cnf.jkt.
func ExampleKey_Proof() {
	key, err := dpop.NewKey()
	if err != nil {
		panic(err)
	}
	proof, err := key.Proof("POST", "https://auth.example/oauth2/token", dpop.ProofOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.Count(proof, "."), len(key.Thumbprint()), key.Alg())
	// Output: 2 43 EdDSA
}
