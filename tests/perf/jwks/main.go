// Command jwks is the load driver for GET /.well-known/jwks.json (DESIGN.md
// §6: p95 < 5 ms, cache hit rate > 95 % under 64 concurrent connections).
// Without -url it starts an in-process authledger JWKS endpoint backed by
// the real read model (in-memory ledger, local secrets in a temp dir), so
// the figures are reproducible on any machine:
//
//	go run ./tests/perf/jwks -c 64 -d 10s
//	go run ./tests/perf/jwks -url http://127.0.0.1:8080/.well-known/jwks.json
//
// Each connection behaves like a caching client: after its first 200 it
// revalidates with If-None-Match (-conditional=false always fetches the
// body). The hit rate counts responses served from the pre-serialized
// in-memory set (in process: the read model's counters; against a URL:
// 200 and 304 answers, since the server has no other source).
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
	"slices"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/eventstore/memstore"
	"github.com/authledger/authledger/readmodels/jwks"
	"github.com/authledger/authledger/secrets/local"
)

func main() {
	url := flag.String("url", "", "target JWKS URL (default: an in-process server)")
	conc := flag.Int("c", 64, "concurrent connections")
	dur := flag.Duration("d", 10*time.Second, "duration")
	conditional := flag.Bool("conditional", true, "revalidate with If-None-Match after the first response")
	client := flag.String("client", "raw", "raw (minimal HTTP/1.1, http:// only) or nethttp")
	flag.Parse()
	if err := run(*url, *conc, *dur, *conditional, *client, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "jwks load:", err)
		os.Exit(1)
	}
}

// Result is one run's figures.
type Result struct {
	Requests       int
	Errors         int
	NotModified    int
	Duration       time.Duration
	P50, P95, P99  time.Duration
	HitRate        float64
	RequestsPerSec float64
}

func run(url string, conc int, dur time.Duration, conditional bool, client string, out io.Writer) error {
	var model *jwks.Model
	var server *serverTimes
	if url == "" {
		u, m, st, stop, err := startInProcess()
		if err != nil {
			return err
		}
		defer stop()
		url, model, server = u, m, st
	}
	res, err := Load(context.Background(), url, conc, dur, conditional, client == "raw")
	if err != nil {
		return err
	}
	if model != nil {
		served, unready := model.Stats()
		res.HitRate = float64(served) / float64(max(served+unready, 1))
	}
	fmt.Fprintf(out, "GET %s  c=%d  d=%s  conditional=%v  client=%s\n", url, conc, dur, conditional, client)
	fmt.Fprintf(out, "requests %d  errors %d  304 %d  %.0f req/s\n", res.Requests, res.Errors, res.NotModified, res.RequestsPerSec)
	fmt.Fprintf(out, "latency p50 %s  p95 %s  p99 %s\n", res.P50, res.P95, res.P99)
	if server != nil {
		p50, p95, p99 := server.percentiles()
		fmt.Fprintf(out, "server-side (handler incl. middleware) p50 %s  p95 %s  p99 %s\n", p50, p95, p99)
	}
	fmt.Fprintf(out, "cache hit rate %.2f %%\n", 100*res.HitRate)
	return nil
}

// serverTimes records how long the server spent on each request, from the
// first middleware to the written response: the endpoint's own cost,
// without the client's share of a CPU it shares with the server.
type serverTimes struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *serverTimes) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		t0 := time.Now()
		err := next(c)
		d := time.Since(t0)
		s.mu.Lock()
		s.d = append(s.d, d)
		s.mu.Unlock()
		return err
	}
}

func (s *serverTimes) percentiles() (p50, p95, p99 time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.d) == 0 {
		return 0, 0, 0
	}
	slices.Sort(s.d)
	q := func(p float64) time.Duration { return s.d[int(p*float64(len(s.d)-1))] }
	return q(0.50), q(0.95), q(0.99)
}

// Load drives conc connections against url for dur.
func Load(ctx context.Context, url string, conc int, dur time.Duration, conditional, raw bool) (Result, error) {
	tr := &http.Transport{MaxIdleConns: conc, MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	type worker struct {
		lat              []time.Duration
		errs, n304, hits int
	}
	ws := make([]worker, conc)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &ws[i]
			etag := ""
			var rc *rawConn
			if raw {
				var err error
				if rc, err = newRawConn(url); err != nil {
					w.errs++
					return
				}
				defer rc.close()
			}
			for ctx.Err() == nil {
				inm := ""
				if conditional {
					inm = etag
				}
				t0 := time.Now()
				status, tag, err := do(ctx, client, rc, url, inm)
				if err != nil {
					if ctx.Err() == nil {
						w.errs++
					}
					continue
				}
				w.lat = append(w.lat, time.Since(t0))
				switch status {
				case http.StatusOK:
					etag = tag
					w.hits++
				case http.StatusNotModified:
					w.n304++
					w.hits++
				default:
					w.errs++
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	var r Result
	hits := 0
	for _, w := range ws {
		all = append(all, w.lat...)
		r.Errors += w.errs
		r.NotModified += w.n304
		hits += w.hits
	}
	if len(all) == 0 {
		return r, errors.New("no request completed")
	}
	slices.Sort(all)
	q := func(p float64) time.Duration { return all[int(p*float64(len(all)-1))] }
	r.Requests, r.Duration = len(all), elapsed
	r.P50, r.P95, r.P99 = q(0.50), q(0.95), q(0.99)
	r.RequestsPerSec = float64(len(all)) / elapsed.Seconds()
	r.HitRate = float64(hits) / float64(len(all)+r.Errors)
	return r, nil
}

// do sends one request through the raw connection or net/http.
func do(ctx context.Context, client *http.Client, rc *rawConn, url, ifNoneMatch string) (int, string, error) {
	if rc != nil {
		return rc.get(ctx, ifNoneMatch)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if ifNoneMatch != "" {
		req.Header.Set("If-None-Match", ifNoneMatch)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("ETag"), nil
}

// startInProcess serves the real JWKS route from a read model fed by a
// real key ring, on a loopback port.
func startInProcess() (string, *jwks.Model, *serverTimes, func(), error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "jwks-load-*")
	if err != nil {
		return "", nil, nil, nil, err
	}
	sp, err := local.Open(dir, local.Options{MasterKey: make([]byte, 32)})
	if err != nil {
		return "", nil, nil, nil, err
	}
	store := memstore.New(nil)
	keys, err := commands.NewKeys(commands.KeysConfig{Store: store, Secrets: sp})
	if err != nil {
		return "", nil, nil, nil, err
	}
	if _, err := keys.Tick(ctx, commands.Metadata{Actor: "load"}); err != nil {
		return "", nil, nil, nil, err
	}
	if _, err := keys.Rotate(ctx, commands.RotateKeys{}, commands.Metadata{Actor: "load"}); err != nil {
		return "", nil, nil, nil, err // a realistic set: active + pre-published next key
	}
	model := jwks.New()
	if err := model.Reload(ctx, store); err != nil {
		return "", nil, nil, nil, err
	}
	p := keys.Policy()
	st := &serverTimes{}
	e := api.New(api.Config{Logger: slog.New(slog.DiscardHandler), Middleware: []echo.MiddlewareFunc{st.middleware}}, api.JWKS{Source: model, MaxAge: p.JWKSMaxAge, StaleWhileRevalidate: p.StaleWhileRevalidate})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, nil, nil, err
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stop := func() {
		_ = srv.Close()
		_ = os.RemoveAll(dir)
	}
	return "http://" + ln.Addr().String() + api.JWKSPath, model, st, stop, nil
}
