package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/authledger/authledger/domain/oauth"
	"github.com/authledger/authledger/domain/token"
)

// ClientCredentialsConfig configures the client_credentials grant.
type ClientCredentialsConfig struct {
	// Signer mints the M2M JWT and records the issuance (required).
	Signer Signer
	// Issuer is added to aud when the client asks for no audience or for
	// the issuer itself (DESIGN.md §5). Required.
	Issuer string
}

// ClientCredentialsGrant issues M2M tokens (RFC 6749 §4.4).
type ClientCredentialsGrant struct{ cfg ClientCredentialsConfig }

// NewClientCredentialsGrant validates cfg.
func NewClientCredentialsGrant(cfg ClientCredentialsConfig) (*ClientCredentialsGrant, error) {
	if cfg.Signer == nil || cfg.Issuer == "" {
		return nil, errors.New("commands: client credentials: Signer and Issuer are required")
	}
	return &ClientCredentialsGrant{cfg: cfg}, nil
}

// IssueClientCredentials is one grant request by an authenticated client.
type IssueClientCredentials struct {
	Client    AuthenticatedClient
	Scopes    []string // empty: every granted scope
	Audiences []string // RFC 8707 resource / audience; empty: registered + issuer
	// JKT is the thumbprint of the key of the request's valid DPoP proof
	// ("" for none): the token is bound to it (cnf.jkt, RFC 9449 §5).
	JKT string
}

// IssuedM2M is the minted token and what it grants.
type IssuedM2M struct {
	token.Issued
	Scopes    []string
	Audiences []string
}

// Issue checks the request against the client's grants and signs an M2M
// JWT with sub = client_id.
func (h *ClientCredentialsGrant) Issue(ctx context.Context, cmd IssueClientCredentials, meta Metadata) (_ IssuedM2M, err error) {
	ctx, end := startCommand(ctx, "IssueClientCredentials")
	defer func() { end(err) }()
	v := cmd.Client.Client
	if err := v.CheckDPoP(cmd.JKT); err != nil {
		return IssuedM2M{}, oauth.ErrInvalidDPoPProof.WithHint("this client must send a DPoP proof").WithDebug(err.Error())
	}
	scopes, err := v.GrantScopes(cmd.Scopes)
	if err != nil {
		return IssuedM2M{}, oauth.ErrInvalidScope.WithDebug(err.Error())
	}
	auds, err := v.GrantAudiences(cmd.Audiences, h.cfg.Issuer)
	if err != nil {
		return IssuedM2M{}, oauth.ErrInvalidTarget.WithDebug(err.Error())
	}
	meta = meta.as(ClientActor(string(v.ID)))
	iss, err := h.cfg.Signer.Sign(ctx, token.Claims{
		Class:    token.M2M,
		Subject:  string(v.ID),
		ClientID: string(v.ID),
		Audience: auds,
		Scope:    scopes,
		JKT:      cmd.JKT,
	}, meta)
	if err != nil {
		return IssuedM2M{}, fmt.Errorf("sign m2m token for %s: %w", v.ID, err)
	}
	return IssuedM2M{Issued: iss, Scopes: scopes, Audiences: auds}, nil
}
