package api

import (
	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/oauth"
)

// RefreshGrant is grant_type=refresh_token (RFC 6749 §6) on the token
// endpoint: only the family's own client may present its tokens.
type RefreshGrant struct {
	refresh Handler[commands.RefreshGrant, commands.TokenPair]
}

// NewRefreshGrant wraps the refresh use case.
func NewRefreshGrant(refresh Handler[commands.RefreshGrant, commands.TokenPair]) *RefreshGrant {
	return &RefreshGrant{refresh: refresh}
}

// GrantType implements Grant.
func (*RefreshGrant) GrantType() string { return "refresh_token" }

// Handle implements Grant. Session families carry no scope, so a scope
// parameter could only widen the grant (RFC 6749 §6 forbids that); it is
// refused before the token is spent, never after, which would strand the
// client with a spent token.
func (g *RefreshGrant) Handle(c echo.Context, cl AuthenticatedClient) error {
	form := c.Request().PostForm
	rt := form.Get("refresh_token")
	if rt == "" {
		return oauth.ErrInvalidRequest.WithHint("refresh_token is required")
	}
	if form.Get("scope") != "" {
		return oauth.ErrInvalidScope.WithHint("a refresh cannot change the scope")
	}
	pair, err := g.refresh.Handle(c.Request().Context(), commands.RefreshGrant{RefreshToken: rt, ClientID: string(cl.ID), JKT: DPoPKey(c)}, RequestMetadata(c))
	if err != nil {
		return err
	}
	return WriteTokenResponse(c, TokenResponse{
		AccessToken: pair.AccessToken, TokenType: tokenType(pair.JKT), ExpiresIn: pair.ExpiresIn,
		RefreshToken: pair.RefreshToken, Scope: pair.Scope,
	})
}
