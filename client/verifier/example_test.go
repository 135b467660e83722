package verifier_test

import (
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"authledger/client/verifier"
)

// A resource server accepts authledger access tokens: the JWKS is fetched
// once and cached, so requests never call authledger.
func Example() {
	keys, err := verifier.NewRemote(verifier.RemoteConfig{URL: "https://auth.example/.well-known/jwks.json"})
	if err != nil {
		log.Fatal(err)
	}
	v, err := verifier.New(verifier.Config{
		Issuer:    "https://auth.example",
		Audiences: []string{"api"},
		Keys:      keys,
		Leeway:    verifier.DefaultLeeway,
	})
	if err != nil {
		log.Fatal(err)
	}
	e := echo.New()
	orders := e.Group("/orders", verifier.Middleware(v))
	orders.GET("", func(c echo.Context) error {
		claims, _ := verifier.ClaimsFrom(c)
		return c.String(http.StatusOK, "orders of "+claims.Subject)
	}, verifier.RequireScopes("orders:read"))
	fmt.Println("leeway:", verifier.DefaultLeeway)
	// Output: leeway: 30s
}

// ExampleParseJWKS verifies against keys the service already holds, e.g.
// the issuer's own in-process key set or a pinned JWKS file.
func ExampleParseJWKS() {
	set, err := verifier.ParseJWKS([]byte(`{"keys":[]}`))
	if err != nil {
		log.Fatal(err)
	}
	_, err = verifier.New(verifier.Config{Issuer: "https://auth.example", Audiences: []string{"api"}, Keys: set, Leeway: 10 * time.Second})
	fmt.Println(err)
	// Output: <nil>
}
