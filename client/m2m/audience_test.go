package m2m_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/authledger/authledger/client/m2m"
)

// TestAssertionsNameTheIssuerAsASingleString: RFC 7523bis wants the
// authorization server's issuer identifier as the assertion's aud, one
// string, never the token endpoint URL or an array (audience injection).
func TestAssertionsNameTheIssuerAsASingleString(t *testing.T) {
	t.Parallel()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	var mu sync.Mutex
	var lastAud string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		parts := strings.Split(r.PostForm.Get("client_assertion"), ".")
		var claims struct {
			Aud json.RawMessage `json:"aud"`
		}
		if len(parts) == 3 {
			b, _ := base64.RawURLEncoding.DecodeString(parts[1])
			_ = json.Unmarshal(b, &claims)
		}
		mu.Lock()
		lastAud = string(claims.Aud)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"tok","token_type":"Bearer","expires_in":1000}`))
	}))
	t.Cleanup(srv.Close)
	cases := []struct {
		name    string
		cfg     m2m.Config
		wantAud string
	}{
		{"the configured issuer", m2m.Config{TokenURL: srv.URL + "/oauth2/token", Issuer: "https://auth.example"}, `"https://auth.example"`},
		{"without Issuer, the token URL less /oauth2/token", m2m.Config{TokenURL: srv.URL + "/oauth2/token"}, `"` + srv.URL + `"`},
		{"AssertionAudience still overrides (for a server with the compatibility switch on)",
			m2m.Config{TokenURL: srv.URL + "/oauth2/token", Issuer: "https://auth.example", AssertionAudience: "https://auth.example/oauth2/token"}, `"https://auth.example/oauth2/token"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.ClientID, cfg.PrivateKey = "svc-a", priv
			s, err := m2m.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Token(); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if lastAud != tc.wantAud {
				t.Fatalf("aud %s, want %s", lastAud, tc.wantAud)
			}
		})
	}
	t.Run("a key without an issuer to name is refused at New", func(t *testing.T) {
		if _, err := m2m.New(m2m.Config{TokenURL: "https://auth.example/token", ClientID: "svc-a", PrivateKey: priv}); err == nil || !strings.Contains(err.Error(), "Issuer") {
			t.Fatalf("New = %v, want an error naming Issuer", err)
		}
	})
}
