package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"authledger/commands"
	"authledger/domain/oauth"
)

// Introspect is POST /oauth2/introspect (RFC 7662); the caller must
// authenticate as a client (§2.1).
type Introspect struct {
	auth *ClientAuthenticator
	svc  *commands.TokenService
}

// NewIntrospect builds the endpoint.
func NewIntrospect(auth *ClientAuthenticator, svc *commands.TokenService) *Introspect {
	return &Introspect{auth: auth, svc: svc}
}

// Register implements Routes.
func (i *Introspect) Register(e *echo.Echo) { e.POST("/oauth2/introspect", i.handle) }

func (i *Introspect) handle(c echo.Context) error {
	cl, err := i.auth.Authenticate(c)
	if err != nil {
		return err
	}
	form := c.Request().PostForm
	tok := form.Get("token")
	if tok == "" {
		return oauth.ErrInvalidRequest.WithHint("token is required")
	}
	out, err := i.svc.Introspect(c.Request().Context(), tok, form.Get("token_type_hint"), string(cl.ID))
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	return c.JSON(http.StatusOK, out)
}
