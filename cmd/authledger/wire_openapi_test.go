package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"authledger/api"
)

// TestServedRoutesMatchTheOpenAPIDocument builds the embedded profile the
// way serve does (every wiring step, temp data dir, no Redis) and compares
// the route table with the document, so a route added to any wiring step
// without documenting it fails here.
func TestServedRoutesMatchTheOpenAPIDocument(t *testing.T) {
	clearEnv(t)
	t.Setenv("AUTHLEDGER_DATA_DIR", t.TempDir())
	cfg, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := buildApp(ctx, cfg, newLogger(io.Discard, "error"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.close(); err != nil {
			t.Error(err)
		}
	})
	e := a.server()
	doc, err := api.NewOpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.CheckRoutes(e.Routes()); err != nil {
		t.Fatal(err)
	}

	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("ETag") == "" {
		t.Fatalf("GET /openapi.json: %d, ETag %q", rec.Code, rec.Header().Get("ETag"))
	}
}
