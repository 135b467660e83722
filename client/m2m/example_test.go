package m2m_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"golang.org/x/oauth2"

	"github.com/authledger/authledger/client/dpop"
	"github.com/authledger/authledger/client/m2m"
)

func ExampleNew() {
	// A stand-in for authledger's /oauth2/token.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"eyJ...","token_type":"Bearer","expires_in":1800,"scope":"invoices:read"}`)
	}))
	defer srv.Close()

	src, err := m2m.New(m2m.Config{
		TokenURL:     srv.URL + "/oauth2/token",
		ClientID:     "svc-0123",
		ClientSecret: "from-your-secret-store",
		Scopes:       []string{"invoices:read"},
		Audiences:    []string{"https://invoices.internal"},
	})
	if err != nil {
		panic(err)
	}
	// Calls to other services carry a fresh token; concurrent requests
	// share one refresh.
	httpClient := oauth2.NewClient(context.Background(), src)
	_ = httpClient
	tok, err := src.Token()
	fmt.Println(tok.TokenType, err)
	// Output: Bearer <nil>
}

// With a DPoP key the tokens are bound to it (RFC 9449), and Client signs
// a proof for every request it makes with them.
func ExampleSource_Client() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth2/token" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"access_token":"eyJ...","token_type":"DPoP","expires_in":1800}`)
			return
		}
		fmt.Fprintln(w, r.Header.Get("Authorization"), r.Header.Get("DPoP") != "")
	}))
	defer srv.Close()

	key, err := dpop.NewKey() // keep it as long as the tokens it binds
	if err != nil {
		panic(err)
	}
	src, err := m2m.New(m2m.Config{TokenURL: srv.URL + "/oauth2/token", ClientID: "svc-0123", ClientSecret: "from-your-secret-store", DPoP: key})
	if err != nil {
		panic(err)
	}
	resp, err := src.Client().Get(srv.URL + "/invoices")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Print(string(b))
	// Output: DPoP eyJ... true
}
