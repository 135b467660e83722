package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// Errors a ProjectionAdmin returns; problemRules maps them.
var (
	ErrProjectionNotFound       = errors.New("api: projection not found")
	ErrProjectionNotRebuildable = errors.New("api: projection cannot be rebuilt (in-memory projections rebuild at every start)")
)

// ProjectionInfo is one projection in GET /v1/admin/projections.
// ProjectionsAdminScope is the scope an M2M token needs for the
// projections admin API.
const ProjectionsAdminScope = "projections:admin"

type ProjectionInfo struct {
	Name             string           `json:"name"`
	Kind             string           `json:"kind"`
	State            string           `json:"state"`
	Description      string           `json:"description"`
	Checkpoint       uint64           `json:"checkpoint"`
	Head             uint64           `json:"head"`
	LagEvents        uint64           `json:"lag_events"`
	LagSeconds       float64          `json:"lag_seconds"`
	Error            string           `json:"error,omitempty"`
	ErrorPosition    uint64           `json:"error_position,omitempty"`
	Generation       uint64           `json:"generation"`
	Owner            string           `json:"owner,omitempty"`
	OwnerAlive       bool             `json:"owner_alive"`
	RebuildRequested bool             `json:"rebuild_requested,omitempty"`
	Rebuild          *RebuildProgress `json:"rebuild,omitempty"`
}

// RebuildProgress is a running rebuild.
type RebuildProgress struct {
	Done         uint64  `json:"done"`
	Total        uint64  `json:"total"`
	EventsPerSec float64 `json:"events_per_second"`
	ETASeconds   float64 `json:"eta_seconds"`
	Error        string  `json:"error,omitempty"`
}

// ProjectionAdmin is what the projection admin endpoints need;
// cmd/authledger adapts the projection runner.
type ProjectionAdmin interface {
	ProjectionStatus(ctx context.Context) ([]ProjectionInfo, error)
	// RequestRebuild records a rebuild that the instance owning the
	// projection performs; progress shows in ProjectionStatus.
	RequestRebuild(ctx context.Context, name string) error
}

// AdminProjections serves GET /v1/admin/projections and
// POST /v1/admin/projections/{name}/rebuild.
type AdminProjections struct {
	admin ProjectionAdmin
	authz echo.MiddlewareFunc
}

// NewAdminProjections returns the route group. authz authorizes every
// request; with a nil authz nothing is registered, so the endpoints never
// exist unprotected.
func NewAdminProjections(admin ProjectionAdmin, authz echo.MiddlewareFunc) *AdminProjections {
	return &AdminProjections{admin: admin, authz: authz}
}

// Register implements Routes.
func (h *AdminProjections) Register(e *echo.Echo) {
	if h.authz == nil || h.admin == nil {
		return
	}
	g := e.Group("/v1/admin/projections", h.authz)
	g.GET("", h.list)
	g.POST("/:name/rebuild", h.rebuild)
}

func (h *AdminProjections) list(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 5*time.Second)
	defer cancel()
	ps, err := h.admin.ProjectionStatus(ctx)
	if err != nil {
		return err
	}
	if ps == nil {
		ps = []ProjectionInfo{}
	}
	return c.JSON(http.StatusOK, map[string]any{"projections": ps})
}

func (h *AdminProjections) rebuild(c echo.Context) error {
	name := c.Param("name")
	if err := h.admin.RequestRebuild(c.Request().Context(), name); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{
		"projection": name,
		"status":     "rebuild requested",
		"progress":   "/v1/admin/projections",
	})
}
