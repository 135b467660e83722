package security_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/client/verifier"
	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/token"
	"github.com/authledger/authledger/eventstore/audit"
	"github.com/authledger/authledger/internal/compose"
)

func TestAuditCheckpointNeedsAuditRead(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	own := s.local(func(c *verifier.Config) { c.Audiences = []string{issuer} })
	bearer := compose.BearerVerifier(own)
	sign := func(ctx context.Context) (string, error) {
		head, err := s.store.Head(ctx)
		if err != nil {
			return "", err
		}
		return s.signer.SignCheckpoint(ctx, head)
	}
	srv := httptest.NewServer(api.New(api.Config{}, api.AuditCheckpoint{Sign: sign, Guard: api.RequireScope(bearer, api.AuditReadScope)}))
	defer srv.Close()
	tok := func(scope ...string) string {
		iss, err := s.signer.Sign(ctx, token.Claims{Class: token.M2M, Subject: "auditor", ClientID: "auditor", Audience: []string{issuer}, Scope: scope}, commands.Metadata{})
		if err != nil {
			t.Fatal(err)
		}
		return iss.Raw
	}
	get := func(bearer string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/audit/checkpoint", nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	if resp, _ := get(""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
	if resp, _ := get(tok("read")); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("without audit:read: %d", resp.StatusCode)
	}
	resp, body := get(tok(api.AuditReadScope))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with audit:read: %d %s", resp.StatusCode, body)
	}
	jwksBody, _, _ := s.model.JWKS()
	var set jose.JSONWebKeySet
	_ = json.Unmarshal(jwksBody, &set)
	cp, err := audit.ParseCheckpoint(body, set)
	if err != nil {
		t.Fatal(err)
	}
	head, _ := s.store.Head(ctx)
	if cp.Position == 0 || cp.Position > head.Position {
		t.Fatalf("checkpoint %+v, head %+v", cp, head)
	}
}
