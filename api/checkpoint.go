package api

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"
)

// AuditReadScope guards the checkpoint (DESIGN.md §5).
const AuditReadScope = "audit:read"

// CheckpointFunc returns the ledger head signed as a compact JWS.
type CheckpointFunc func(ctx context.Context) (string, error)

// AuditCheckpoint serves GET /v1/audit/checkpoint: {"checkpoint": JWS},
// verifiable with the JWKS (eventstore/audit.ParseCheckpoint).
type AuditCheckpoint struct {
	Sign CheckpointFunc
	// Guard admits callers with scope audit:read (RequireScope).
	Guard echo.MiddlewareFunc
}

// Register implements Routes.
func (a AuditCheckpoint) Register(e *echo.Echo) {
	e.GET("/v1/audit/checkpoint", func(c echo.Context) error {
		jws, err := a.Sign(c.Request().Context())
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, map[string]string{"checkpoint": jws})
	}, a.Guard)
}
