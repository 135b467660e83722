package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/api"
	cmds "github.com/authledger/authledger/commands"
)

func newLogger(w io.Writer, level string) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl}))
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return exitError{2}
	}
	cfg, err := LoadConfig()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	log := newLogger(stderr, cfg.LogLevel)
	// Adapters that log through slog.Default (the PostgreSQL listener, the
	// projection runner's fallbacks) then write the same JSON at the same level.
	slog.SetDefault(log)
	a, err := buildApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	e := a.server()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return errors.Join(fmt.Errorf("listen: %w", err), a.close())
	}
	// Bounded timeouts so slow clients cannot hold connections; the write
	// timeout leaves room for the 30 s long poll of /v1/revocations.
	d := newDrainer(ln)
	srv := &http.Server{
		Handler:           d.handler(e),
		ConnState:         d.connState,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}
	log.Info("authledger serving", "addr", ln.Addr().String(), "issuer", cfg.Issuer, "store", redactURL(cfg.Store))

	bgCtx, cancelBG := context.WithCancel(context.WithoutCancel(ctx))
	var bg sync.WaitGroup
	for _, t := range a.tasks {
		bg.Go(func() { a.supervisor.run(bgCtx, t.name, t.run) })
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(d.ln) }()

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-serveErr:
		runErr = fmt.Errorf("http server: %w", err)
	}
	// Stop taking requests first, then stop background work, then close
	// stores (the ledger last, after draining pending appends).
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	d.drain(shutCtx, drainWindow)
	if err := srv.Shutdown(shutCtx); err != nil {
		runErr = errors.Join(runErr, fmt.Errorf("http shutdown: %w", err))
	}
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

// server builds the HTTP handler with every route group the parts
// added; tests build it the same way to compare the routes with the
// OpenAPI document.
func (a *app) server() *echo.Echo {
	metrics := api.NewMetrics(a.metrics)
	mw := []echo.MiddlewareFunc{metrics.Middleware, api.BearerRequestLimit(a.clients.limiter, a.revs.bearer), // per-client limit on /v1
		api.StepUpForUserTokens(cmds.ACRUserVerified, a.cfg.StepUpMaxAge, time.Now)} // wire_login.go
	return api.New(api.Config{Logger: a.log, Metrics: metrics, ReadyChecks: a.ready, Middleware: mw, ClientAddress: clientAddress(a.cfg.TrustedProxies)},
		append([]api.Routes{metrics}, a.routes...)...)
}
