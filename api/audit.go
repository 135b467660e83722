package api

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/queries"
)

// AuditReader reads the audit read model (readmodels/audit.Store).
type AuditReader interface {
	Events(ctx context.Context, f queries.AuditFilter) (queries.AuditPage, error)
}

// AuditPageResponse is the body of GET /v1/audit/events and GET
// /v1/me/audit (docs/audit.md). NextCursor continues after the last entry:
// ascending, it also picks up entries appended later.
type AuditPageResponse struct {
	Entries    []queries.AuditEntry `json:"entries"`
	NextCursor string               `json:"next_cursor,omitempty"`
	HasMore    bool                 `json:"has_more"`
}

func auditPage(c echo.Context, r AuditReader, f queries.AuditFilter) error {
	page, err := r.Events(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := AuditPageResponse{Entries: page.Entries, HasMore: page.More}
	if out.Entries == nil {
		out.Entries = []queries.AuditEntry{}
	}
	if page.Next > 0 && (page.More || !f.Descending) {
		out.NextCursor = formatCursor(page.Next, f.Descending)
	}
	noStore(c)
	return c.JSON(http.StatusOK, out)
}

// AuditEvents serves GET /v1/audit/events to auditors (scope audit:read).
type AuditEvents struct {
	Reader AuditReader
	// Guard admits callers with scope audit:read (RequireScope).
	Guard echo.MiddlewareFunc
}

// Register implements Routes.
func (a AuditEvents) Register(e *echo.Echo) {
	e.GET("/v1/audit/events", func(c echo.Context) error {
		f, err := parseAuditQuery(c.QueryParams(), auditorParams)
		if err != nil {
			return auditQueryProblem(err)
		}
		return auditPage(c, a.Reader, f)
	}, a.Guard)
}

// Me is the privacy dashboard's API, for the caller's own data only:
//
//	GET    /v1/me/audit          the caller's trail, newest first
//	GET    /v1/me/sessions       the caller's active sessions
//	DELETE /v1/me/sessions/{id}  ends one of them (and its refresh family)
//
// The caller is the sub of a user access token (one minted from a session,
// carrying sid). An M2M token is refused whatever its sub, and nothing in
// the request can name another subject: the subject filter is the token's.
type Me struct {
	Access   AccessChecker
	Audit    AuditReader
	Sessions SessionLister
	End      Action[commands.EndSession]
}

// Register implements Routes.
func (m Me) Register(e *echo.Echo) {
	e.GET("/v1/me/audit", m.audit)
	e.GET("/v1/me/sessions", m.sessions)
	e.DELETE("/v1/me/sessions/:id", m.endSession)
}

// subject is the verified user access token's sub.
func (m Me) subject(c echo.Context) (string, string, error) {
	raw := bearerToken(c.Request())
	if raw == "" {
		return "", "", errBearerMissing(c)
	}
	cl, err := m.Access.Check(c.Request().Context(), raw)
	if err != nil {
		return "", "", errBearerInvalid(c)
	}
	if cl.SessionID == "" || cl.Subject == "" {
		return "", "", errUserTokenRequired(c)
	}
	return cl.Subject, cl.SessionID, nil
}

func (m Me) audit(c echo.Context) error {
	sub, _, err := m.subject(c)
	if err != nil {
		return err
	}
	f, err := parseAuditQuery(c.QueryParams(), ownerParams)
	if err != nil {
		return auditQueryProblem(err)
	}
	f.Subject = sub // the only subject this caller may read
	return auditPage(c, m.Audit, f)
}

// MySession is one entry of GET /v1/me/sessions (docs/audit.md).
type MySession struct {
	ID        string    `json:"id"`
	ClientID  string    `json:"client_id"`
	ACR       string    `json:"acr,omitempty"`
	AMR       []string  `json:"amr,omitempty"`
	AuthTime  time.Time `json:"auth_time"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
	Current   bool      `json:"current"`
}

func (m Me) sessions(c echo.Context) error {
	sub, sid, err := m.subject(c)
	if err != nil {
		return err
	}
	if len(c.QueryParams()) > 0 {
		return auditQueryProblem(errAuditQuery)
	}
	recs, err := m.Sessions.List(c.Request().Context(), sub)
	if err != nil {
		return err
	}
	out := make([]MySession, 0, len(recs))
	for _, r := range recs {
		if r.Subject != sub {
			continue // belt and braces: the store is keyed by subject
		}
		out = append(out, MySession{ID: r.ID, ClientID: r.ClientID, ACR: r.ACR, AMR: r.AMR, AuthTime: r.AuthTime,
			CreatedAt: r.CreatedAt, LastSeen: r.LastSeen, Current: r.ID == sid})
	}
	noStore(c)
	return c.JSON(http.StatusOK, map[string]any{"sessions": out})
}

func (m Me) endSession(c echo.Context) error {
	sub, _, err := m.subject(c)
	if err != nil {
		return err
	}
	// The command answers session.ErrNotFound (404) for another subject's
	// session exactly as for an unknown id, so an id reveals nothing.
	if err := m.End.Handle(c.Request().Context(), commands.EndSession{SessionID: c.Param("id"), Subject: sub, Reason: "revoked"}, RequestMetadata(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// CheckpointLister lists the recorded periodic checkpoints
// (readmodels/audit.Store).
type CheckpointLister interface {
	Checkpoints(ctx context.Context, after uint64, limit int) ([]queries.RecordedCheckpoint, error)
}

// AuditCheckpoints serves GET /v1/audit/checkpoints?after=POS&limit=N
// (scope audit:read): the periodic checkpoints that signed a position
// after POS, oldest first, for auditors to collect.
type AuditCheckpoints struct {
	Lister CheckpointLister
	Guard  echo.MiddlewareFunc
}

// CheckpointsResponse is the body of GET /v1/audit/checkpoints. Next is
// the after= of the following call: the last position signed here.
type CheckpointsResponse struct {
	Checkpoints []queries.RecordedCheckpoint `json:"checkpoints"`
	Next        uint64                       `json:"next_after"`
}

// Register implements Routes.
func (a AuditCheckpoints) Register(e *echo.Echo) {
	e.GET("/v1/audit/checkpoints", func(c echo.Context) error {
		after, limit, err := parseCheckpointsQuery(c.QueryParams())
		if err != nil {
			return auditQueryProblem(err)
		}
		cps, err := a.Lister.Checkpoints(c.Request().Context(), after, limit)
		if err != nil {
			return err
		}
		out := CheckpointsResponse{Checkpoints: cps, Next: after}
		if n := len(cps); n > 0 {
			out.Next = cps[n-1].Position
		}
		noStore(c)
		return c.JSON(http.StatusOK, out)
	}, a.Guard)
}
