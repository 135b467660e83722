package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Draining refuses new connections, answers on an open keep-alive
// connection with "Connection: close", and ends a long poll at once.
func TestDrainClosesKeepAlivesCleanlyAndEndsLongPolls(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := newDrainer(ln)
	polling := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/revocations", func(w http.ResponseWriter, r *http.Request) {
		close(polling)
		<-r.Context().Done()
		_, _ = io.WriteString(w, "{}")
	})
	mux.HandleFunc("GET /x", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	srv := &http.Server{Handler: d.handler(mux), ConnState: d.connState}
	go func() { _ = srv.Serve(d.ln) }()
	base := "http://" + ln.Addr().String()

	hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 1}}
	get := func(path string) *http.Response {
		t.Helper()
		resp, err := hc.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if r := get("/x"); r.Close {
		t.Fatal("keep-alive off before draining")
	}
	poll := make(chan error, 1)
	go func() {
		resp, err := (&http.Client{Timeout: 20 * time.Second}).Get(base + "/v1/revocations?after=0&wait=30")
		if err == nil {
			resp.Body.Close()
		}
		poll <- err
	}()
	<-polling

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	drained := make(chan struct{})
	go func() { d.drain(ctx, 5*time.Second); close(drained) }()
	select {
	case err := <-poll:
		if err != nil {
			t.Fatalf("long poll at drain: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("long poll still open 10 s after draining started")
	}
	// The listener closes as drain starts; poll for it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting 10 s after draining started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The idle keep-alive connection is still served, once, and closed.
	if r := get("/x"); !r.Close {
		t.Fatal("an answer while draining kept the connection alive")
	}
	select {
	case <-drained:
	case <-time.After(10 * time.Second):
		t.Fatal("drain did not return once every connection closed")
	}
	_ = srv.Shutdown(ctx)
}

// A long poll that arrives once draining has begun (on a connection kept
// alive from before) answers at once as well, instead of holding Shutdown
// for its whole wait.
func TestALongPollArrivingWhileDrainingAnswersAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := newDrainer(ln)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	d.drain(ctx, 0)
	ended := make(chan error, 1)
	h := d.handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			ended <- nil
		case <-time.After(20 * time.Second):
			ended <- context.DeadlineExceeded
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/revocations?after=3&wait=30", nil))
	if err := <-ended; err != nil {
		t.Fatal("the long poll waited its full wait while draining")
	}
	if rec.Header().Get("Connection") != "close" {
		t.Fatal("no Connection: close while draining")
	}
}
