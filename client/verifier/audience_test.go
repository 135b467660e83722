package verifier_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/authledger/authledger/client/verifier"
)

func TestRequireAudienceRejectsAnotherServicesToken(t *testing.T) {
	k := newTestKey(t, "k1")
	set, _ := verifier.ParseJWKS([]byte(k.jwks()))
	// One verifier trusting both services' audiences, as a gateway would.
	v, err := verifier.New(verifier.Config{Issuer: "https://auth.example", Audiences: []string{"https://a.svc", "https://b.svc"},
		Keys: set, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	e := http.NewServeMux()
	e.Handle("/a", verifier.Middleware(v)(verifier.RequireAudience("https://a.svc")(ok)))
	e.Handle("/b", verifier.Middleware(v)(verifier.RequireAudience("https://b.svc")(ok)))
	e.Handle("/bare", verifier.RequireAudience("https://b.svc")(ok))
	forA := k.sign(map[string]any{"aud": []string{"https://a.svc"}})
	both := k.sign(map[string]any{"aud": []string{"https://a.svc", "https://b.svc"}})
	cases := []struct {
		name, path, token string
		status            int
	}{
		{"service A accepts a token minted for A", "/a", forA, 200},
		{"service B refuses a token minted for A", "/b", forA, 401},
		{"service B accepts a token minted for A and B", "/b", both, 200},
		{"without the verifier middleware nothing is admitted", "/bare", both, 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			req.Header.Set("Authorization", "Bearer "+tc.token)
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if tc.status == 401 && rec.Header().Get("WWW-Authenticate") == "" {
				t.Fatal("401 without a challenge")
			}
		})
	}
}
