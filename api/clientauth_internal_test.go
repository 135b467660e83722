package api

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestParseBasicDecodesFormEncodedParts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, header, id, secret string
		ok                       bool
	}{
		{"plain parts are read as is", "svc-a:pw", "svc-a", "pw", true},
		{"percent-encoded parts are decoded (RFC 6749 §2.3.1)", "svc-a:p%3Aw%2B", "svc-a", "p:w+", true},
		{"a plus is a space in form encoding", "svc-a:a+b", "svc-a", "a b", true},
		{"a colon in the secret splits at the first colon", "svc-a:a:b", "svc-a", "a:b", true},
		{"no colon is refused", "svc-a", "", "", false},
		{"an empty id is refused", ":pw", "", "", false},
		{"bad percent-encoding is refused", "svc-a:%zz", "", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, secret, ok := parseBasic(base64.StdEncoding.EncodeToString([]byte(tc.header)))
			if ok != tc.ok || id != tc.id || secret != tc.secret {
				t.Fatalf("got %q %q %v", id, secret, ok)
			}
		})
	}
}

func FuzzClientCredentialsFromRequest(f *testing.F) {
	f.Add("Basic c3ZjLWE6cHc=", "grant_type=client_credentials")
	f.Add("", "client_id=a&client_secret=b")
	f.Add("", "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=a.b.c")
	f.Add("Basic !!!", "scope=a&scope=b")
	f.Fuzz(func(t *testing.T, auth, body string) {
		req, err := http.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if err := parseOAuthForm(req); err != nil {
			return
		}
		cred, err := credentialsFrom(req)
		if err != nil {
			return
		}
		if cred.Method == "" {
			t.Fatal("credentials without a method")
		}
		if n := len(req.PostForm["client_secret"]) + len(req.PostForm["client_assertion"]); n > 1 {
			t.Fatalf("several methods accepted: %v", url.Values(req.PostForm))
		}
	})
}

func TestAnAssertionNamesItsClientForRateLimiting(t *testing.T) {
	t.Parallel()
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"svc-a","iss":"svc-a"}`))
	body := url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {"e30." + payload + ".sig"}}
	req, _ := http.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := parseOAuthForm(req); err != nil {
		t.Fatal(err)
	}
	cred, err := credentialsFrom(req)
	if err != nil || cred.ClientID != "svc-a" {
		t.Fatalf("client id %q, err %v", cred.ClientID, err)
	}
}
