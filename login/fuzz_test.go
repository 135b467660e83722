package login_test

import (
	"net/http"
	"testing"

	"github.com/authledger/authledger/api"
)

// FuzzSignInResponse posts arbitrary bodies as the answer to a begun
// sign-in ceremony: whatever the bytes, the answer is a 4xx (never a 5xx
// or a panic) and no session cookie is set.
func FuzzSignInResponse(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"","signature":"","userHandle":"YWxpY2U"}}`))
	f.Add([]byte(`not json`))
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		local := *fx
		local.t = t
		b := local.browser()
		mustStatus(t, b.post("/login/passkey/signin/options", map[string]string{}), http.StatusOK)
		res := b.post("/login/passkey/signin", body)
		if res.status < 400 || res.status >= 500 {
			t.Fatalf("status %d for %q: %s", res.status, body, res.body)
		}
		if _, ok := b.cookies[api.SessionCookie]; ok {
			t.Fatalf("a session cookie for %q", body)
		}
	})
}

// FuzzRegistrationResponse does the same for an enrolment's registration.
func FuzzRegistrationResponse(f *testing.F) {
	f.Add([]byte(`{"name":"x","credential":{}}`))
	f.Add([]byte(`{"name":"x","credential":{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}}`))
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		local := *fx
		local.t = t
		b := local.browser()
		mustStatus(t, b.post("/login/passkey/register/options", map[string]string{"code": local.link("alice")}), http.StatusOK)
		res := b.post("/login/passkey/register", body)
		if res.status < 400 || res.status >= 500 {
			t.Fatalf("status %d for %q: %s", res.status, body, res.body)
		}
	})
}
