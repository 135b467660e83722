package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/readmodels/revocations"
)

// RevocationFeed is the part of the revocation set resource servers follow.
type RevocationFeed interface {
	Since(ctx context.Context, after uint64, limit int, wait time.Duration) revocations.Page
}

// Revocations is GET /v1/revocations?after=N[&wait=S][&limit=L]: the
// revocation entries (jti, sid, family) still live, in ledger order, with a
// cursor; with wait it long-polls up to S seconds (at most 30) for the next
// entry. docs/revocation.md documents it. The entries name opaque random
// identifiers only, so the feed is public like the JWKS.
type Revocations struct {
	feed RevocationFeed
}

// NewRevocations builds the endpoint.
func NewRevocations(feed RevocationFeed) *Revocations { return &Revocations{feed: feed} }

// Register implements Routes.
func (r *Revocations) Register(e *echo.Echo) { e.GET("/v1/revocations", r.handle) }

// maxRevocationWait bounds a long poll below common proxy idle timeouts.
const maxRevocationWait = 30 * time.Second

func (r *Revocations) handle(c echo.Context) error {
	q := c.QueryParams()
	var after uint64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return NewProblem(http.StatusBadRequest, "invalid-parameter", "Bad Request", "after must be a non-negative integer")
		}
		after = n
	}
	var wait time.Duration
	if v := q.Get("wait"); v != "" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n < 0 {
			return NewProblem(http.StatusBadRequest, "invalid-parameter", "Bad Request", "wait must be a number of seconds")
		}
		wait = min(time.Duration(n*float64(time.Second)), maxRevocationWait)
	}
	limit := 1000
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return NewProblem(http.StatusBadRequest, "invalid-parameter", "Bad Request", "limit must be between 1 and 1000")
		}
		limit = n
	}
	page := r.feed.Since(c.Request().Context(), after, limit, wait)
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, page)
}
