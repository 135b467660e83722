package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/spf13/cobra"
	"go.opentelemetry.io/contrib/instrumentation/github.com/labstack/echo/otelecho"

	"github.com/authledger/authledger/api"
	cmds "github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/internal/telemetry"
)

func newLogger(w io.Writer, level string) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl, ReplaceAttr: redactAttr}))
}

func newServeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "run the HTTP service",
		Long: `serve runs the token service on the configured store until SIGINT or
SIGTERM, then drains: it stops accepting, answers parked long polls, finishes
in-flight requests and commits pending appends before it exits (0 when
everything acknowledged committed).`,
		Example: `  authledger serve
  AUTHLEDGER_LISTEN=0.0.0.0:9090 AUTHLEDGER_ISSUER=https://auth.example authledger serve`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
}

func runServe(ctx context.Context, stdout, stderr io.Writer) error {
	loaded, err := loadConfig()
	if err != nil {
		return err
	}
	cfg := loaded.Config
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	log := newLogger(stderr, cfg.LogLevel)
	// Adapters that log through slog.Default (the PostgreSQL listener, the
	// projection runner's fallbacks) then write the same JSON at the same level.
	slog.SetDefault(log)
	for _, w := range loaded.warnings {
		log.Warn("configuration: " + w)
	}
	// Tracing first, so the adapters buildApp opens (Redis) are traced.
	stopTracing, err := telemetry.Setup(ctx, buildVersion())
	if err != nil {
		return err
	}
	defer func() {
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := stopTracing(flushCtx); err != nil {
			log.Warn("trace export: flush at stop failed", "err", err)
		}
	}()
	if telemetry.Enabled(os.Getenv) {
		log.Info("tracing on: exporting spans over OTLP/HTTP")
	}
	a, err := buildApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	e := a.server()

	// One listener, or the public one and the admin one
	// (AUTHLEDGER_ADMIN_LISTEN), each with its own drainer.
	var listeners []*listener
	public := http.Handler(e)
	if cfg.AdminListen != "" {
		public = publicOnly(e)
	}
	for _, l := range []struct {
		name, addr string
		h          http.Handler
	}{{"public", cfg.Listen, public}, {"admin", cfg.AdminListen, e}} {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			for _, o := range listeners {
				_ = o.d.ln.Close()
			}
			return errors.Join(fmt.Errorf("listen (%s): %w", l.name, err), a.close())
		}
		listeners = append(listeners, newListener(l.name, ln, l.h))
	}
	attrs := []any{"addr", listeners[0].d.ln.Addr().String()}
	if len(listeners) > 1 {
		attrs = append(attrs, "admin_addr", listeners[1].d.ln.Addr().String())
	}
	log.Info("authledger serving", append(attrs, "issuer", cfg.Issuer, "store", redactURL(cfg.Store))...)

	bgCtx, cancelBG := context.WithCancel(context.WithoutCancel(ctx))
	var bg sync.WaitGroup
	for _, t := range a.tasks {
		bg.Go(func() { a.supervisor.run(bgCtx, t.name, t.run) })
	}
	serveErr := make(chan error, len(listeners))
	for _, l := range listeners {
		go func() {
			if err := l.srv.Serve(l.d.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				serveErr <- fmt.Errorf("http server (%s): %w", l.name, err)
			}
		}()
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-serveErr:
		runErr = err
	}
	// Stop taking requests first, then stop background work, then close
	// stores (the ledger last, after draining pending appends).
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	var drains sync.WaitGroup
	for _, l := range listeners {
		drains.Go(func() { l.d.drain(shutCtx, drainWindow) })
	}
	drains.Wait()
	var shutMu sync.Mutex
	for _, l := range listeners {
		drains.Go(func() {
			if err := l.srv.Shutdown(shutCtx); err != nil {
				shutMu.Lock()
				runErr = errors.Join(runErr, fmt.Errorf("http shutdown (%s): %w", l.name, err))
				shutMu.Unlock()
			}
		})
	}
	drains.Wait()
	cancelBG()
	bg.Wait()
	if err := a.close(); err != nil {
		runErr = errors.Join(runErr, err)
	}
	if runErr == nil {
		log.Info("stopped cleanly")
	}
	return runErr
}

// listener is one http.Server on its own listener and drainer.
type listener struct {
	name string
	d    *drainer
	srv  *http.Server
}

func newListener(name string, ln net.Listener, h http.Handler) *listener {
	d := newDrainer(ln)
	// Bounded timeouts so slow clients cannot hold connections; the write
	// timeout leaves room for the 30 s long poll of /v1/revocations.
	return &listener{name: name, d: d, srv: &http.Server{
		Handler:           d.handler(h),
		ConnState:         d.connState,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}}
}

// server builds the HTTP handler with every route group the parts
// added; tests build it the same way to compare the routes with the
// OpenAPI document.
func (a *app) server() *echo.Echo {
	metrics := api.NewMetrics(a.metrics)
	var mw []echo.MiddlewareFunc
	if telemetry.Enabled(os.Getenv) {
		// The request's span, named by route, around everything below.
		mw = append(mw, otelecho.Middleware("authledger"))
	}
	if lvl, on, _ := a.cfg.accessLogLevel(); on {
		mw = append(mw, api.AccessLog(a.log, lvl)) // outside metrics, which writes the error status
	}
	mw = append(mw, metrics.Middleware,
		api.DPoPResource(a.clients.dpop, a.cfg.Issuer),                              // DPoP proofs on /v1 (RFC 9449 §7)
		api.BearerRequestLimit(a.clients.limiter, a.revs.bearer),                    // per-client limit on /v1
		api.StepUpForUserTokens(cmds.ACRUserVerified, a.cfg.StepUpMaxAge, time.Now)) // wire_login.go
	return api.New(api.Config{Logger: a.log, Metrics: metrics, ReadyChecks: a.ready, Middleware: mw, ClientAddress: clientAddress(a.cfg.TrustedProxies),
		Hardening: a.cfg.hardening()},
		append([]api.Routes{metrics}, a.routes...)...)
}
