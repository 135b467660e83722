package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authledger/authledger/tests/infisicalfake"
)

const (
	fakeProject  = "proj-0001"
	fakeClientID = "authledger-dev-client"
	// A value no code path should ever print: the tests search for it.
	fakeClientSecret = "CANARY-infisical-client-secret-7f3a9"
	fakeWebhookKey   = "CANARY-webhook-key-1c2d3e"
)

func startFake(t *testing.T) *infisicalfake.Server {
	t.Helper()
	f := infisicalfake.New(map[string][]string{fakeProject: {"dev", "prod"}})
	f.AddIdentity(infisicalfake.Identity{ID: "id-dev", ClientID: fakeClientID, ClientSecret: fakeClientSecret,
		Privileges: []infisicalfake.Privilege{{Project: fakeProject, Environment: "dev", Path: "/authledger", Write: true}}})
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	return f
}

// infisicalEnv points the configuration at the fake's dev environment.
func infisicalEnv(t *testing.T, f *infisicalfake.Server, env string) {
	t.Helper()
	clearEnv(t)
	t.Setenv("AUTHLEDGER_DATA_DIR", t.TempDir())
	t.Setenv("AUTHLEDGER_SECRETS", fmt.Sprintf("infisical://%s/%s?env=%s&path=/authledger&insecure_http=1",
		strings.TrimPrefix(f.URL(), "http://"), fakeProject, env))
	t.Setenv("AUTHLEDGER_INFISICAL_CLIENT_ID", fakeClientID)
	t.Setenv("AUTHLEDGER_INFISICAL_CLIENT_SECRET", fakeClientSecret)
	t.Setenv("AUTHLEDGER_INFISICAL_WEBHOOK_SECRET", fakeWebhookKey)
	t.Setenv("AUTHLEDGER_INFISICAL_CONFIG_DIR", filepath.Join("..", "..", "config", "infisical"))
}

func webhookDelivery(event, project, env, path string, at time.Time) (string, string) {
	body := fmt.Sprintf(`{"event":%q,"project":{"workspaceId":%q,"environment":%q,"secretPath":%q},"timestamp":%d}`,
		event, project, env, path, at.UnixMilli())
	mac := hmac.New(sha256.New, []byte(fakeWebhookKey))
	mac.Write([]byte(body))
	return body, fmt.Sprintf("t=%d;%s", at.UnixMilli(), hex.EncodeToString(mac.Sum(nil)))
}

func get(e http.Handler, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

func TestServeOnInfisical(t *testing.T) {
	f := startFake(t)
	infisicalEnv(t, f, "dev")
	t.Setenv("AUTHLEDGER_ENV", "dev")
	e := buildServed(t, true)

	// Start-up wrote the signing key, the sealing key and the pepper into
	// the identity's folder, base64, at their first versions.
	if _, n, ok := f.Value(fakeProject, "dev", "/authledger", "refresh-sealing-key"); !ok || n != 1 {
		t.Fatalf("sealing key in Infisical: ok %v version %d", ok, n)
	}
	if rec := get(e, "/.well-known/jwks.json"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"kid"`) {
		t.Fatalf("jwks: %d %s", rec.Code, rec.Body)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		rec := get(e, "/readyz")
		if rec.Code == http.StatusOK && strings.Contains(rec.Body.String(), `"secrets":"ok"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz: %d %s", rec.Code, rec.Body)
		}
	}

	t.Run("a webhook for our folder is acted on, one for another environment is ignored", func(t *testing.T) {
		reads := func() int64 { return f.Requests("GET /api/v3/secrets/raw/refresh-sealing-key") }
		before := reads()
		for _, tc := range []struct{ env, outcome string }{{"dev", "invalidated"}, {"prod", "ignored"}} {
			body, sig := webhookDelivery("secrets.modified", fakeProject, tc.env, "/authledger", time.Now())
			req := httptest.NewRequest(http.MethodPost, "/v1/webhooks/infisical", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Infisical-Signature", sig)
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != http.StatusAccepted {
				t.Fatalf("%s: %d %s", tc.env, rec.Code, rec.Body)
			}
			m := get(e, "/metrics").Body.String()
			want := fmt.Sprintf(`authledger_infisical_webhook_events_total{event="secrets.modified",outcome=%q} 1`, tc.outcome)
			if !strings.Contains(m, want) {
				t.Fatalf("metrics lack %s", want)
			}
		}
		// The invalidated sealing key is read again from Infisical.
		for deadline := time.Now().Add(30 * time.Second); reads() == before; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the invalidated secret was never re-read")
			}
		}
	})

	t.Run("with Infisical down the JWKS still answers and readiness is degraded", func(t *testing.T) {
		f.Stop()
		defer func() {
			if err := f.Start(); err != nil {
				t.Fatal(err)
			}
		}()
		deadline := time.Now().Add(30 * time.Second)
		for {
			rec := get(e, "/readyz")
			if rec.Code == http.StatusOK && strings.Contains(rec.Body.String(), `"secrets":"degraded"`) {
				if !strings.Contains(rec.Body.String(), `serving cached secrets`) {
					t.Fatalf("no reason: %s", rec.Body)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("readyz never degraded: %d %s", rec.Code, rec.Body)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if rec := get(e, "/.well-known/jwks.json"); rec.Code != http.StatusOK {
			t.Fatalf("jwks while Infisical is down: %d", rec.Code)
		}
	})
}

func TestInfisicalConfiguration(t *testing.T) {
	f := startFake(t)
	cases := []struct {
		name    string
		env     string
		secrets string
		unset   string
		want    string
	}{
		{"a dev deployment pointed at the prod environment is refused", "dev", "infisical://h/p?env=prod&path=/authledger", "", `environment "prod"`},
		{"a path other than the environment file's is refused", "dev", "infisical://h/p?env=dev&path=/billing", "", `path "/billing"`},
		{"credentials in the URL are refused", "", "infisical://id:pw@h/p?env=dev", "", "must not carry credentials"},
		{"plain HTTP to a remote host is refused", "", "infisical://infisical.example.com/p?env=dev&insecure_http=1", "", "loopback host only"},
		{"no credentials at all are refused", "", "infisical://h/p?env=dev", "AUTHLEDGER_INFISICAL_CLIENT_SECRET", "INFISICAL_CLIENT_SECRET"},
		{"an unknown AUTHLEDGER_ENV is refused", "qa", "infisical://h/p?env=qa", "", "AUTHLEDGER_ENV=qa"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			infisicalEnv(t, f, "dev")
			t.Setenv("AUTHLEDGER_SECRETS", tc.secrets)
			if tc.env != "" {
				t.Setenv("AUTHLEDGER_ENV", tc.env)
			}
			if tc.unset != "" {
				os.Unsetenv(tc.unset)
			}
			_, err := LoadConfig()
			if !errors.Is(err, errInfisicalConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), fakeClientSecret) {
				t.Fatal("the error carries the client secret")
			}
		})
	}
	t.Run("start-up with Infisical down is refused with a clear error", func(t *testing.T) {
		down := startFake(t)
		infisicalEnv(t, down, "dev")
		down.Stop()
		cfg, err := LoadConfig()
		if err != nil {
			t.Fatal(err)
		}
		_, err = buildApp(t.Context(), cfg, newLogger(os.Stderr, "error"))
		if err == nil || !strings.Contains(err.Error(), "start-up refused") || strings.Contains(err.Error(), fakeClientSecret) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestTheEnvironmentFiles(t *testing.T) {
	seen := map[string]string{}
	for _, env := range []string{"dev", "staging", "prod"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "config", "infisical", env+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var f infisicalEnvFile
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&f); err != nil {
			t.Fatalf("%s: %v", env, err)
		}
		if f.Environment != env || f.Path == "" || f.CacheTTL <= 0 || (f.Auth != "universal" && f.Auth != "kubernetes") {
			t.Fatalf("%s: %+v", env, f)
		}
		if other, dup := seen[f.Identity]; dup {
			t.Fatalf("%s and %s share the identity %q: a dev identity must never read prod", env, other, f.Identity)
		}
		seen[f.Identity] = env
		for _, word := range []string{"secret:", "password", "token:"} {
			if strings.Contains(strings.ToLower(string(b)), word) {
				t.Fatalf("%s.yaml mentions %q: no credential belongs in it", env, word)
			}
		}
	}
}
