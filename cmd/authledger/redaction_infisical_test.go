package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	cmds "github.com/authledger/authledger/commands"
)

// lockedBuffer is a log sink the server's goroutines share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestNoSecretReachesLogsResponsesMetricsOrTheLedger drives the service on
// Infisical through its paths, failures included, with recognisable
// secret values (the machine identity's client secret, the webhook key,
// every key Infisical holds, the access tokens it issued, a client
// secret), then searches every log line at debug level, every response
// body and header, the metrics and every ledger row for each of them.
func TestNoSecretReachesLogsResponsesMetricsOrTheLedger(t *testing.T) {
	f := startFake(t)
	infisicalEnv(t, f, "dev")
	t.Setenv("AUTHLEDGER_LOG_LEVEL", "debug")
	var logs lockedBuffer
	var outputs []string
	var mu sync.Mutex
	record := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		outputs = append(outputs, s)
	}

	// Failures before the server exists: a wrong client secret, Infisical down.
	{
		t.Setenv("AUTHLEDGER_INFISICAL_CLIENT_SECRET", "CANARY-wrong-client-secret-99")
		cfg, err := LoadConfig()
		if err != nil {
			t.Fatal(err)
		}
		_, err = buildApp(context.Background(), cfg, newLogger(&logs, "debug"))
		record(fmt.Sprintf("%v %+v %#v", err, cfg, cfg))
		t.Setenv("AUTHLEDGER_INFISICAL_CLIENT_SECRET", fakeClientSecret)
	}

	cfg, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	record(fmt.Sprintf("%v %+v %#v %s %x %q", cfg, cfg, cfg, cfg.InfisicalClientSecret, cfg.InfisicalClientSecret, cfg.InfisicalClientSecret))
	a, err := buildApp(context.Background(), cfg, newLogger(&logs, "debug"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, task := range a.tasks {
		wg.Go(func() { _ = task.run(ctx) })
	}
	srv := httptest.NewServer(a.server())
	t.Cleanup(func() {
		srv.Close()
		cancel()
		wg.Wait()
		_ = a.close()
	})
	call := func(req *http.Request) {
		t.Helper()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		record(fmt.Sprintf("%d %v %s", res.StatusCode, res.Header, b))
	}
	getURL := func(p string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+p, nil)
		call(req)
	}
	webhook := func(body, sig string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/webhooks/infisical", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Infisical-Signature", sig)
		call(req)
	}

	id, clientSecret := register(t, a)
	token := func(secret string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/oauth2/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		call(req)
	}
	token(clientSecret)
	token("CANARY-wrong-client-credential")
	for _, p := range []string{"/.well-known/jwks.json", "/readyz", "/healthz", "/metrics"} {
		getURL(p)
	}
	body, sig := webhookDelivery("secrets.modified", fakeProject, "dev", "/authledger", time.Now())
	webhook(body, sig)
	webhook(body, sig) // a replay
	webhook(body, "t=1;"+strings.Repeat("00", 32))
	body, sig = webhookDelivery("secrets.rotation-failed", fakeProject, "dev", "/authledger", time.Now())
	webhook(body, sig)
	body, sig = webhookDelivery("secrets.modified", fakeProject, "prod", "/authledger", time.Now())
	webhook(body, sig)

	// A rotation while Infisical fails, then one after it is back.
	policy, err := cfg.KeysConfig.policy()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := newKeys(a.store, a.keys.secrets, policy, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.FailNext(1000, 503)
	_, err = keys.Rotate(context.Background(), cmds.RotateKeys{Immediately: true}, cmds.Metadata{Actor: "test"})
	record(fmt.Sprint(err))
	getURL("/readyz")
	f.ClearFaults()
	f.Stop()
	_, err = keys.Rotate(context.Background(), cmds.RotateKeys{Immediately: true}, cmds.Metadata{Actor: "test"})
	record(fmt.Sprint(err))
	time.Sleep(10 * time.Millisecond)
	getURL("/readyz")
	token(clientSecret) // tokens keep flowing while Infisical is down
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err = keys.Rotate(context.Background(), cmds.RotateKeys{Immediately: true}, cmds.Metadata{Actor: "test"})
		record(fmt.Sprint(err))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rotation after recovery: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	getURL("/metrics")

	recs, err := a.store.ReadAll(context.Background(), 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		record(fmt.Sprintf("%s %s %s %s", r.Stream, r.Type, r.Data, r.Metadata))
	}
	record(logs.String())

	canaries := []string{fakeClientSecret, fakeWebhookKey, "CANARY-wrong-client-secret-99", clientSecret}
	for _, v := range f.Values() {
		canaries = append(canaries, v)
		if raw, err := base64.StdEncoding.DecodeString(v); err == nil && len(raw) >= 16 {
			canaries = append(canaries, base64.RawURLEncoding.EncodeToString(raw), hex.EncodeToString(raw), base64.RawStdEncoding.EncodeToString(raw))
		}
	}
	if len(canaries) < 8 {
		t.Fatalf("only %d secret values to look for: the run did not exercise Infisical", len(canaries))
	}
	all := strings.Join(outputs, "\n")
	if !strings.Contains(all, "[redacted]") || !strings.Contains(logs.String(), "infisical webhook") {
		t.Fatal("the captured output does not cover the paths it should")
	}
	for _, c := range canaries {
		if c != "" && strings.Contains(all, c) {
			i := strings.Index(all, c)
			t.Errorf("a secret value leaked: …%s…", all[max(0, i-120):i])
		}
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "searched %d bytes of output for %d secret values\n", len(all), len(canaries))
	}
}
