package main

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// drainWindow is how long a stopping server keeps idle keep-alive
// connections open after it stops accepting, so that a client which sends
// its next request on one gets an answer (with "Connection: close") instead
// of a connection closed under its request. Connections close as soon as
// they have answered; the window only bounds the wait for idle ones. It
// is half a second, so that a stop with only idle connections open still
// exits within a second (what an orchestrator's rolling restart expects);
// a client whose request is already on the wire is answered well inside it.
const drainWindow = 500 * time.Millisecond

// drainer implements the SIGTERM sequence of `serve`:
//  1. stop accepting: the listener is closed, new connections are refused;
//  2. every answer from then on carries "Connection: close", so each
//     keep-alive connection closes cleanly after its next response, and
//     long polls (GET /v1/revocations?wait=…) answer at once with what they
//     have, as when their wait ends;
//  3. after every connection has closed, or drainWindow, http.Server.Shutdown
//     closes what is still idle and waits for requests still running.
//
// Closing an idle keep-alive connection at once (what Shutdown does) races
// a client sending its next request on it: that client gets EOF for a
// request the server never read.
type drainer struct {
	ln       *onceCloseListener
	draining chan struct{}
	once     sync.Once

	mu    sync.Mutex
	conns map[net.Conn]http.ConnState
}

func newDrainer(ln net.Listener) *drainer {
	return &drainer{ln: &onceCloseListener{Listener: ln}, draining: make(chan struct{}), conns: map[net.Conn]http.ConnState{}}
}

// connState is the http.Server's ConnState hook.
func (d *drainer) connState(c net.Conn, st http.ConnState) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if st == http.StateClosed || st == http.StateHijacked {
		delete(d.conns, c)
		return
	}
	d.conns[c] = st
}

func (d *drainer) open() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.conns)
}

// handler marks answers "Connection: close" once draining and ends long
// polls when draining starts.
func (d *drainer) handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-d.draining:
			w.Header().Set("Connection", "close")
			if isLongPoll(r) {
				// A long poll sent on a kept-alive connection while
				// draining answers at once too, or it would hold
				// Shutdown for its whole wait.
				ctx, cancel := context.WithCancel(r.Context())
				cancel()
				r = r.WithContext(ctx)
			}
		default:
			if isLongPoll(r) {
				ctx, cancel := context.WithCancel(r.Context())
				defer cancel()
				go func() {
					select {
					case <-d.draining:
						cancel()
					case <-ctx.Done():
					}
				}()
				r = r.WithContext(ctx)
			}
		}
		h.ServeHTTP(w, r)
	})
}

// isLongPoll reports the requests that wait for news and may end early.
func isLongPoll(r *http.Request) bool {
	return r.Method == http.MethodGet && r.URL.Path == "/v1/revocations" && r.URL.Query().Has("wait")
}

// drain stops accepting, turns keep-alives off and waits until every
// connection has closed, window has passed or ctx ends.
func (d *drainer) drain(ctx context.Context, window time.Duration) {
	d.once.Do(func() { close(d.draining) })
	_ = d.ln.Close()
	deadline := time.NewTimer(window)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for d.open() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-tick.C:
		}
	}
}

// onceCloseListener lets drain close the listener before http.Server.Shutdown
// closes it again.
type onceCloseListener struct {
	net.Listener
	once sync.Once
	err  error
}

func (l *onceCloseListener) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}
