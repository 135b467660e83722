package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"authledger/commands"
	"authledger/domain/oauth"
)

// Revoke is POST /oauth2/revoke (RFC 7009), client authentication required.
type Revoke struct {
	auth *ClientAuthenticator
	svc  *commands.TokenService
}

// NewRevoke builds the endpoint.
func NewRevoke(auth *ClientAuthenticator, svc *commands.TokenService) *Revoke {
	return &Revoke{auth: auth, svc: svc}
}

// Register implements Routes.
func (r *Revoke) Register(e *echo.Echo) { e.POST("/oauth2/revoke", r.handle) }

func (r *Revoke) handle(c echo.Context) error {
	cl, err := r.auth.Authenticate(c)
	if err != nil {
		return err
	}
	form := c.Request().PostForm
	tok := form.Get("token")
	if tok == "" {
		return oauth.ErrInvalidRequest.WithHint("token is required")
	}
	// §2.1: an unknown hint is ignored, not refused; the search then
	// covers every type this server issues.
	hint := form.Get("token_type_hint")
	if err := r.svc.Revoke(c.Request().Context(), commands.RevokeToken{Token: tok, Hint: hint, ClientID: string(cl.ID)}, RequestMetadata(c)); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.NoContent(http.StatusOK)
}
