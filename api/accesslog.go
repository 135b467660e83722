package api

import (
	"context"
	"log/slog"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/trace"
)

// accessClientKey holds the client id a request authenticated as, for the
// access log: the OAuth client of /oauth2/*, or the bearer token's client
// on /v1.
const accessClientKey = "authledger.access.client"

// AccessLog writes one structured line per request at level: method,
// route (the route pattern, never the raw path, which may carry a
// subject id), status, duration, the authenticated client id and the
// request id, plus the trace id when tracing is on. Nothing from the body,
// the query or the headers is logged, so no credential can reach the log.
// It must run outside the middleware that writes errors (Metrics), so the
// status is final.
func AccessLog(log *slog.Logger, level slog.Level) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			ctx := c.Request().Context()
			if !log.Enabled(ctx, level) {
				return nil
			}
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			attrs := []slog.Attr{
				slog.String("method", c.Request().Method),
				slog.String("route", route),
				slog.Int("status", c.Response().Status),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
				slog.String("client_id", accessClient(c)),
				slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
			}
			if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
				attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
			}
			log.LogAttrs(context.WithoutCancel(ctx), level, "request", attrs...)
			return nil
		}
	}
}

func accessClient(c echo.Context) string {
	if id, ok := c.Get(accessClientKey).(string); ok {
		return id
	}
	if p, ok := c.Get(principalKey).(Principal); ok {
		return p.ClientID
	}
	return ""
}
