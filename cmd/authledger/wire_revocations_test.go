package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/authledger/authledger/api"
	cmds "github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/internal/bus"
)

// startApp builds the real serve wiring on a fresh SQLite data dir, runs
// its background tasks and serves its routes on an httptest server.
func startApp(t *testing.T) (*app, *httptest.Server) {
	t.Helper()
	cfg := Config{Issuer: "http://authledger.test", DataDir: t.TempDir(), LogLevel: "error"}
	cfg.fillDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := buildApp(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, task := range a.tasks {
		wg.Go(func() { _ = task.run(ctx) })
	}
	srv := httptest.NewServer(api.New(api.Config{Logger: a.log, ReadyChecks: a.ready}, a.routes...))
	t.Cleanup(func() {
		srv.Close()
		cancel()
		wg.Wait()
		if err := a.close(); err != nil {
			t.Error(err)
		}
	})
	return a, srv
}

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func form(t *testing.T, base, path, id, secret string, v url.Values) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return do(t, req)
}

func TestARevokedM2MTokenIsRefusedByTheAdminAPIRightAfterRevocation(t *testing.T) {
	t.Parallel()
	a, srv := startApp(t)
	ctx := context.Background()
	pepper, err := cmds.LoadSecretPepper(ctx, a.keys.secrets, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := cmds.NewServices(cmds.ServicesConfig{Store: a.store, Pepper: pepper})
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.Register(ctx, cmds.RegisterService{Name: "admin", Scopes: []string{api.ServicesAdminScope}}, cmds.Metadata{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// The registry runs on the projection runner: this also proves the
	// runner delivers client events to it.
	if err := a.clients.registry.WaitFor(wctx, res.Position); err != nil {
		t.Fatalf("registry never saw the new client: %v", err)
	}
	id := string(res.Client.ID)

	code, body := form(t, srv.URL, "/oauth2/token", id, res.ClientSecret, url.Values{"grant_type": {"client_credentials"}, "scope": {api.ServicesAdminScope}})
	if code != http.StatusOK {
		t.Fatalf("token: %d %s", code, body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(body), &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token response %q: %v", body, err)
	}
	admin := func() (int, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/admin/services", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		return do(t, req)
	}
	if code, body := admin(); code != http.StatusOK {
		t.Fatalf("admin API before revocation: %d %s", code, body)
	}
	if code, body := form(t, srv.URL, "/oauth2/revoke", id, res.ClientSecret, url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}}); code != http.StatusOK {
		t.Fatalf("revoke: %d %s", code, body)
	}
	// No wait: the revoking instance knows at once, without Redis.
	if code, body := admin(); code != http.StatusUnauthorized {
		t.Fatalf("admin API right after revocation: %d %s, want 401", code, body)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/audit/checkpoint", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	if code, body := do(t, req); code != http.StatusUnauthorized {
		t.Fatalf("audit checkpoint right after revocation: %d %s, want 401", code, body)
	}
}

func TestEveryInMemoryModelOfServeIsAProjectionOnTheRunner(t *testing.T) {
	t.Parallel()
	a, _ := startApp(t)
	got := map[string]bool{}
	for _, n := range a.runner.Names() {
		got[n] = true
	}
	for _, want := range []string{"jwks.v1", "revocations.v1", "services.v1"} {
		if !got[want] {
			t.Errorf("projection %s is not on the runner; runner has %v", want, a.runner.Names())
		}
	}
}

// TestServeAppliesRevocationsAnnouncedOnTheBus: on the embedded profile the
// bus is the in-process GoChannel, and the revocations step's fan-out must
// be running on it, so a hint another component announces there reaches the
// set every verifier consults, and the step's publisher goes over the bus.
func TestServeAppliesRevocationsAnnouncedOnTheBus(t *testing.T) {
	t.Parallel()
	a, _ := startApp(t)
	if a.bus.Distributed() {
		t.Fatal("the embedded profile built a distributed bus")
	}
	deadline := time.Now().Add(10 * time.Second)
	for a.bus.Subscriptions(bus.TopicRevocations) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("nothing subscribed to revocations on the bus")
		}
		time.Sleep(5 * time.Millisecond)
	}
	until := time.Now().Add(time.Minute).UTC().Format(time.RFC3339Nano)
	m := message.NewMessage(watermill.NewUUID(), []byte(`{"type":"sid","id":"s-from-bus","until":"`+until+`"}`))
	if err := a.bus.Publish(bus.TopicRevocations, m); err != nil {
		t.Fatal(err)
	}
	for !a.revs.set.IsRevoked("", "s-from-bus", "") {
		if time.Now().After(deadline) {
			t.Fatal("a revocation announced on the bus never reached serve's set")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The publisher the token service uses announces on the bus too.
	ch, err := a.bus.Subscribe(t.Context(), bus.TopicRevocations)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.revs.publisher.PublishRevocation(context.Background(), "jti", "j-announced", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if !a.revs.set.IsRevoked("j-announced", "", "") {
		t.Fatal("the publisher did not revoke on this instance at once")
	}
	select {
	case got := <-ch:
		got.Ack()
		if !strings.Contains(string(got.Payload), `"j-announced"`) {
			t.Fatalf("announced %s", got.Payload)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the publisher announced nothing on the bus")
	}
}
