package api

import (
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/domain/oauth"
)

// OutageRetryAfter is the Retry-After (seconds) of a 503 caused by a
// dependency outage: long enough not to hammer a store that is failing
// over, short enough that a client resumes soon after it is back.
const OutageRetryAfter = 5

// outageLogEvery is how often one dependency's outage is logged: one ERROR
// line per dependency per window, the next one saying how many were
// suppressed in between. A database outage under load is thousands of
// failing requests a second; their count is the metric, not the log.
const outageLogEvery = 5 * time.Second

// outageProblems are the problem types of a dependency outage on the
// non-OAuth endpoints (docs/api.md).
var outageProblems = map[string]struct{ typ, title, detail string }{
	"ledger":        {"storage-unavailable", "Storage Unavailable", "the ledger is temporarily unavailable; retry later"},
	"secrets":       {"secrets-unavailable", "Secrets Unavailable", "the secret provider is temporarily unavailable; retry later"},
	"session_store": {"session-store-unavailable", "Session Store Unavailable", "session: session store unavailable"},
}

// outageLog rate-limits the error log of outages, per dependency.
type outageLog struct {
	log   *slog.Logger
	every time.Duration
	now   func() time.Time
	mu    sync.Mutex
	kinds map[string]*outageKind
}

type outageKind struct {
	last       time.Time
	suppressed int
}

func newOutageLog(log *slog.Logger, every time.Duration, now func() time.Time) *outageLog {
	return &outageLog{log: log, every: every, now: now, kinds: map[string]*outageKind{}}
}

// error logs one outage unless this dependency was logged less than every
// ago, in which case it only counts it for the next line.
func (o *outageLog) error(dependency, path, requestID string, err error) {
	now := o.now()
	o.mu.Lock()
	k := o.kinds[dependency]
	if k == nil {
		k = &outageKind{}
		o.kinds[dependency] = k
	}
	if !k.last.IsZero() && now.Sub(k.last) < o.every {
		k.suppressed++
		o.mu.Unlock()
		return
	}
	suppressed := k.suppressed
	k.last, k.suppressed = now, 0
	o.mu.Unlock()
	o.log.Error("dependency unavailable", "dependency", dependency, "path", path, "request_id", requestID,
		"suppressed", suppressed, "err", err)
}

// answerOutage writes the 503 of a dependency outage: RFC 6749
// temporarily_unavailable on /oauth2/*, a problem elsewhere, with
// Retry-After either way.
func answerOutage(c echo.Context, dependency string) {
	h := c.Response().Header()
	h.Set("Retry-After", strconv.Itoa(OutageRetryAfter))
	if isOAuthPath(c.Request().URL.Path) {
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
		_ = c.JSON(http.StatusServiceUnavailable, OAuthErrorBody{Error: oauth.ErrTemporarilyUnavail.Code, ErrorDescription: "a dependency is temporarily unavailable; retry later"})
		return
	}
	p, ok := outageProblems[dependency]
	if !ok {
		p = outageProblems["ledger"]
	}
	writeProblem(c, NewProblem(http.StatusServiceUnavailable, p.typ, p.title, p.detail))
}
