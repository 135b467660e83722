package m2m_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/authledger/authledger/client/dpop"
	"github.com/authledger/authledger/client/m2m"
	"github.com/authledger/authledger/client/verifier"
)

// dpopServer is a token endpoint and a resource that check proofs with
// client/verifier and each demand a nonce before they answer.
type dpopServer struct {
	*httptest.Server
	pc                   *verifier.ProofChecker
	tokenCalls, resCalls atomic.Int64
	jkt                  atomic.Value
}

func newDPoPServer(t *testing.T) *dpopServer {
	t.Helper()
	pc, err := verifier.NewProofChecker(verifier.ProofConfig{Replay: verifier.NewMemoryReplayCache(nil)})
	if err != nil {
		t.Fatal(err)
	}
	ds := &dpopServer{pc: pc}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		ds.tokenCalls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		p, err := pc.Check(r.Context(), r.Header.Get("DPoP"), verifier.ProofRequest{Method: r.Method, URI: ds.URL + r.URL.Path, Nonce: "as-nonce"})
		if errors.Is(err, verifier.ErrUseDPoPNonce) {
			w.Header().Set("DPoP-Nonce", "as-nonce")
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"error":"use_dpop_nonce"}`))
			return
		}
		if err != nil {
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"error":"invalid_dpop_proof"}`))
			return
		}
		ds.jkt.Store(p.JKT)
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "bound-token", "token_type": "DPoP", "expires_in": 600})
	})
	mux.HandleFunc("GET /orders", func(w http.ResponseWriter, r *http.Request) {
		ds.resCalls.Add(1)
		if r.Header.Get("Authorization") != "DPoP bound-token" {
			w.WriteHeader(401)
			return
		}
		p, err := pc.Check(r.Context(), r.Header.Get("DPoP"), verifier.ProofRequest{Method: r.Method, URI: ds.URL + r.URL.Path, AccessToken: "bound-token", Nonce: "rs-nonce"})
		if errors.Is(err, verifier.ErrUseDPoPNonce) {
			w.Header().Set("DPoP-Nonce", "rs-nonce")
			w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce"`)
			w.WriteHeader(401)
			return
		}
		if err != nil || p.JKT != ds.jkt.Load() {
			w.WriteHeader(401)
			return
		}
		w.WriteHeader(200)
	})
	ds.Server = httptest.NewServer(mux)
	t.Cleanup(ds.Close)
	return ds
}

func TestDPoPSourceBindsTokensAndSignsAProofPerRequest(t *testing.T) {
	t.Parallel()
	ds := newDPoPServer(t)
	key, err := dpop.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	src, err := m2m.New(m2m.Config{TokenURL: ds.URL + "/oauth2/token", ClientID: "svc", ClientSecret: "s", DPoP: key})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := src.Token()
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "DPoP" || ds.jkt.Load() != key.Thumbprint() {
		t.Fatalf("token %+v bound to %v", tok, ds.jkt.Load())
	}
	if n := ds.tokenCalls.Load(); n != 2 {
		t.Fatalf("%d token requests, want 2 (one use_dpop_nonce answer, one retry)", n)
	}
	hc := src.Client()
	for i := range 3 {
		resp, err := hc.Get(ds.URL + "/orders")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("call %d: %d", i, resp.StatusCode)
		}
	}
	// The first call learns the resource server's nonce (one retry);
	// the next two carry it, each with its own proof (no replay refused).
	if n := ds.resCalls.Load(); n != 4 {
		t.Fatalf("%d resource requests, want 4", n)
	}
}

func TestDPoPSourceRefusesABearerAnswer(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t) // answers token_type Bearer
	key, _ := dpop.NewKey()
	src, err := m2m.New(m2m.Config{TokenURL: ts.URL, ClientID: "svc-a", ClientSecret: "s3cret", DPoP: key})
	if err != nil {
		t.Fatal(err)
	}
	var re *m2m.RetrieveError
	if _, err := src.Token(); !errors.As(err, &re) || re.Code != "invalid_response" {
		t.Fatalf("a Bearer answer to a DPoP request: %v", err)
	}
}
