package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/queries"
)

// Introspect is POST /oauth2/introspect (RFC 7662); the caller must
// authenticate as a client (§2.1), and learns about a token only when it
// may (§4, queries.Caller).
type Introspect struct {
	auth *ClientAuthenticator
	q    Introspector
}

// NewIntrospect builds the endpoint.
func NewIntrospect(auth *ClientAuthenticator, q Introspector) *Introspect {
	return &Introspect{auth: auth, q: q}
}

// Register implements Routes.
func (i *Introspect) Register(e *echo.Echo) { e.POST("/oauth2/introspect", i.handle) }

func (i *Introspect) handle(c echo.Context) error {
	cl, tok, hint, err := tokenRequest(c, i.auth)
	if err != nil {
		return err
	}
	// What the caller may learn depends on who it is and what the
	// registry grants it (RFC 7662 §4), never on what the request claims.
	out, err := i.q.Introspect(c.Request().Context(), tok, hint, queries.Caller{ClientID: string(cl.ID), Scopes: cl.Client.Scopes})
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusOK, out)
}
