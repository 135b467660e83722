package m2m

import (
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/authledger/authledger/client/dpop"
)

// Transport is an http.RoundTripper that authorizes every request with the
// Source's token: "Bearer <token>", or with a DPoP key "DPoP <token>" and
// a fresh proof for that request (RFC 9449 §7: htm, htu, ath). A 401 whose
// challenge says use_dpop_nonce is retried once with the resource
// server's DPoP-Nonce, which is then kept per host (§9).
type Transport struct {
	Source *Source
	// Base is the underlying transport; nil means http.DefaultTransport.
	Base http.RoundTripper

	mu     sync.Mutex
	nonces map[string]string // host → last DPoP-Nonce
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if t.Source == nil {
		return nil, errNoSource
	}
	tok, err := t.Source.TokenContext(req.Context())
	if err != nil {
		return nil, err
	}
	key := t.Source.cfg.DPoP
	if key == nil || !strings.EqualFold(tok.TokenType, "DPoP") {
		r := req.Clone(req.Context())
		r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		return base.RoundTrip(r)
	}
	send := func() (*http.Response, error) {
		r := req.Clone(req.Context())
		if req.Body != nil && req.GetBody != nil {
			b, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r.Body = b
		}
		proof, err := key.Proof(r.Method, r.URL.String(), dpop.ProofOptions{AccessToken: tok.AccessToken, Nonce: t.nonce(r.URL.Host)})
		if err != nil {
			return nil, err
		}
		r.Header.Set("Authorization", "DPoP "+tok.AccessToken)
		r.Header.Set("DPoP", proof)
		return base.RoundTrip(r)
	}
	resp, err := send()
	if err != nil {
		return nil, err
	}
	n := resp.Header.Get("DPoP-Nonce")
	if n == "" {
		return resp, nil
	}
	t.setNonce(req.URL.Host, n)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "use_dpop_nonce") {
		return resp, nil
	}
	if req.Body != nil && req.GetBody == nil {
		return resp, nil // the body cannot be sent twice
	}
	_ = resp.Body.Close()
	return send()
}

func (t *Transport) nonce(host string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.nonces[host]
}

func (t *Transport) setNonce(host, n string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.nonces == nil {
		t.nonces = map[string]string{}
	}
	t.nonces[host] = n
}

var errNoSource = errors.New("m2m: Transport without a Source")

// Client returns an *http.Client whose requests go through a Transport of
// s (DPoP proofs included when s has a key).
func (s *Source) Client() *http.Client {
	return &http.Client{Transport: &Transport{Source: s}}
}
