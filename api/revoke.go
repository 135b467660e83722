package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/oauth"
)

// Revoke is POST /oauth2/revoke (RFC 7009), client authentication required.
type Revoke struct {
	auth   *ClientAuthenticator
	revoke Action[commands.RevokeToken]
}

// NewRevoke builds the endpoint.
func NewRevoke(auth *ClientAuthenticator, revoke Action[commands.RevokeToken]) *Revoke {
	return &Revoke{auth: auth, revoke: revoke}
}

// Register implements Routes.
func (r *Revoke) Register(e *echo.Echo) { e.POST("/oauth2/revoke", r.handle) }

func (r *Revoke) handle(c echo.Context) error {
	cl, tok, hint, err := tokenRequest(c, r.auth)
	if err != nil {
		return err
	}
	if err := r.revoke.Handle(c.Request().Context(), commands.RevokeToken{Token: tok, Hint: hint, ClientID: string(cl.ID)}, RequestMetadata(c)); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.NoContent(http.StatusOK)
}

// tokenRequest is the prologue revocation (RFC 7009 §2.1) and
// introspection (RFC 7662 §2.1) share: an authenticated client and a
// required token. An unknown token_type_hint is ignored, not refused; the
// search then covers every type this server issues.
func tokenRequest(c echo.Context, auth *ClientAuthenticator) (cl AuthenticatedClient, tok, hint string, err error) {
	if cl, err = auth.Authenticate(c); err != nil {
		return cl, "", "", err
	}
	form := c.Request().PostForm
	if tok = form.Get("token"); tok == "" {
		return cl, "", "", oauth.ErrInvalidRequest.WithHint("token is required")
	}
	return cl, tok, form.Get("token_type_hint"), nil
}
