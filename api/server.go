// Package api is the Echo HTTP layer: parse, authorize, call a command or a
// read model, map errors. Handlers stay thin; errors.go maps every error once.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// Routes is implemented by each endpoint group; cmd/authledger wires the
// groups it has built into the server.
type Routes interface {
	Register(e *echo.Echo)
}

// ReadyCheck is one readiness probe; a non-nil error makes /readyz 503.
// The error goes to the log only: /readyz is public, and an error's text
// can name hosts, users or internal state.
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
	// Degrades marks a check whose failure leaves the instance useful for
	// part of its traffic: a failing Degrades check answers "degraded"
	// with 200 on /readyz (verification, client credentials and refresh
	// still work), and 503 on /readyz?traffic=sessions, the probe of the
	// load balancer's session-traffic pool, which it drains.
	Degrades bool
}

// Config configures the server.
type Config struct {
	Logger      *slog.Logger
	BodyLimit   string // e.g. "64K"
	ReadyChecks []ReadyCheck
	// Middleware runs before every route (metrics, rate limits).
	Middleware []echo.MiddlewareFunc
	// Metrics, when set, counts dependency outages answered by the error
	// handler (authledger_dependency_errors_total).
	Metrics *Metrics
	// Hardening sets the security headers, CORS and the in-flight cap of
	// every answer (the zero value is safe).
	Hardening Hardening
	// ClientAddress derives the caller's address (failure budgets, logs)
	// from a request; nil means PeerAddress, never a forwarded header.
	// Behind proxies use ForwardedFor with their ranges only. A request
	// whose address it cannot tell is refused with 400.
	ClientAddress ClientAddress
}

// New returns an Echo server with the common middleware, health endpoints,
// the error handler and every route group.
func New(cfg Config, groups ...Routes) *echo.Echo {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BodyLimit == "" {
		cfg.BodyLimit = "64K"
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = errorHandler(cfg.Logger, cfg.Metrics, time.Now)
	if cfg.ClientAddress == nil {
		cfg.ClientAddress = PeerAddress
	}
	e.IPExtractor = func(req *http.Request) string {
		if a, err := cfg.ClientAddress(req); err == nil {
			return a
		}
		return peer(req) // refused by checkClientAddress anyway
	}
	// Before routing, so 404s, 405s and the body limit's 413 carry the
	// headers and count against the cap too.
	e.Pre(cfg.Hardening.middleware(cfg.Metrics)...)
	e.Use(middleware.RequestID())
	e.Use(middleware.Recover())
	e.Use(middleware.BodyLimit(cfg.BodyLimit))
	e.Use(cfg.Middleware...)
	e.Use(checkClientAddress(cfg.ClientAddress))

	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	e.GET("/readyz", readyz(cfg.ReadyChecks, cfg.Logger))
	for _, g := range groups {
		g.Register(e)
	}
	return e
}

// Readiness answers of one check and of the whole.
const (
	readyOK          = "ok"
	readyUnavailable = "unavailable"
	readyDegraded    = "degraded"
)

// Degraded is what a ReadyCheck returns for a dependency that fails while
// the service keeps serving without it (from a cache): /readyz stays 200,
// the check reads "degraded" and Reason is shown under "reasons". Reason
// is a fixed phrase chosen by the check, never an error's text.
type Degraded struct{ Reason string }

func (d *Degraded) Error() string { return d.Reason }

// trafficSessions is the /readyz?traffic= value of the session-traffic
// pool: it fails on every failing check, Degrades ones included.
const trafficSessions = "sessions"

// readyz answers a short reason per check (ok, degraded or unavailable)
// and logs what failed, with the request id, for the operator. A check is
// degraded when it returns *Degraded (served from a cache, whatever the
// traffic) or when it fails and is marked Degrades (200 here, 503 for the
// session-traffic pool).
func readyz(checks []ReadyCheck, log *slog.Logger) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		strict := c.QueryParam("traffic") == trafficSessions
		failed, degraded := false, false
		out := map[string]string{}
		reasons := map[string]string{}
		for _, ch := range checks {
			err := ch.Check(ctx)
			var dg *Degraded
			switch {
			case err == nil:
				out[ch.Name] = readyOK
				continue
			case errors.As(err, &dg):
				degraded = true
				out[ch.Name], reasons[ch.Name] = readyDegraded, dg.Reason
				log.Warn("readiness check degraded", "check", ch.Name, "reason", dg.Reason)
				continue
			case ch.Degrades && !strict:
				degraded = true
				out[ch.Name] = readyDegraded
			case ch.Degrades:
				failed = true
				out[ch.Name] = readyDegraded
			default:
				failed = true
				out[ch.Name] = readyUnavailable
			}
			log.Warn("readiness check failed", "check", ch.Name, "degrades", ch.Degrades,
				"request_id", c.Response().Header().Get(echo.HeaderXRequestID), "err", err)
		}
		status, overall := http.StatusOK, readyOK
		switch {
		case failed:
			status, overall = http.StatusServiceUnavailable, readyUnavailable
		case degraded:
			overall = readyDegraded
		}
		answer := map[string]any{"ready": status == http.StatusOK, "status": overall, "checks": out}
		if len(reasons) > 0 {
			answer["reasons"] = reasons
		}
		return c.JSON(status, answer)
	}
}
