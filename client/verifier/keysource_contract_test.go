package verifier_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/authledger/authledger/client/verifier"
	"github.com/authledger/authledger/client/verifier/keysourcetest"
)

func genKeys(t *testing.T, kids ...string) map[string]ed25519.PrivateKey {
	t.Helper()
	out := map[string]ed25519.PrivateKey{}
	for _, kid := range kids {
		_, priv, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		out[kid] = priv
	}
	return out
}

func publicHalves(keys map[string]ed25519.PrivateKey) map[string]ed25519.PublicKey {
	out := map[string]ed25519.PublicKey{}
	for kid, priv := range keys {
		out[kid] = priv.Public().(ed25519.PublicKey)
	}
	return out
}

func jwksDocument(keys map[string]ed25519.PrivateKey) string {
	var parts []string
	for kid, priv := range keys {
		parts = append(parts, `{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","use":"sig","kid":"`+kid+`","x":"`+
			base64.RawURLEncoding.EncodeToString(priv.Public().(ed25519.PublicKey))+`"}`)
	}
	return `{"keys":[` + strings.Join(parts, ",") + `]}`
}

func TestNewKeySetIsAKeySource(t *testing.T) {
	keysourcetest.Run(t, func(t *testing.T) keysourcetest.Fixture {
		keys := genKeys(t, "k1", "k2")
		return keysourcetest.Fixture{Source: verifier.NewKeySet(publicHalves(keys)), Keys: keys}
	})
}

func TestAParsedJWKSIsAKeySource(t *testing.T) {
	keysourcetest.Run(t, func(t *testing.T) keysourcetest.Fixture {
		keys := genKeys(t, "k1", "k2", "k3")
		set, err := verifier.ParseJWKS([]byte(jwksDocument(keys)))
		if err != nil {
			t.Fatal(err)
		}
		return keysourcetest.Fixture{Source: set, Keys: keys}
	})
}

func TestRemoteIsAKeySource(t *testing.T) {
	keysourcetest.Run(t, func(t *testing.T) keysourcetest.Fixture {
		var mu sync.Mutex
		served := genKeys(t, "k1", "k2")
		first := map[string]ed25519.PrivateKey{}
		for kid, priv := range served {
			first[kid] = priv
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "max-age=300")
			fmt.Fprint(w, jwksDocument(served))
		}))
		t.Cleanup(srv.Close)
		r, err := verifier.NewRemote(verifier.RemoteConfig{URL: srv.URL, Client: srv.Client()})
		if err != nil {
			t.Fatal(err)
		}
		return keysourcetest.Fixture{Source: r, Keys: first, AddKey: func(t *testing.T) (string, ed25519.PrivateKey) {
			added := genKeys(t, "k-added")
			mu.Lock()
			defer mu.Unlock()
			served["k-added"] = added["k-added"]
			return "k-added", added["k-added"]
		}}
	})
}
