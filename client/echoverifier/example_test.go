package echoverifier_test

import (
	"log"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/client/echoverifier"
	"github.com/authledger/authledger/client/verifier"
)

// An Echo resource server: the JWKS comes from the issuer's jwks_uri and is
// cached; each route says which scopes it needs.
func Example() {
	keys, err := verifier.NewRemote(verifier.RemoteConfig{URL: "https://auth.example/.well-known/jwks.json"})
	if err != nil {
		log.Fatal(err)
	}
	v, err := verifier.New(verifier.Config{Issuer: "https://auth.example", Audiences: []string{"api"}, Keys: keys, Leeway: verifier.DefaultLeeway})
	if err != nil {
		log.Fatal(err)
	}
	e := echo.New()
	orders := e.Group("/orders", echoverifier.Middleware(v))
	orders.GET("", func(c echo.Context) error {
		claims, _ := echoverifier.ClaimsFrom(c)
		return c.String(http.StatusOK, "orders of "+claims.Subject)
	}, echoverifier.RequireScopes("orders:read"))
	_ = e // e.Start(":8081")
}
