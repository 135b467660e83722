package commands

import (
	"context"
	"log/slog"
	"time"

	"github.com/authledger/authledger/domain/client"
)

// RegisterService registers a new service client. A secret is generated
// unless the service authenticates with public keys only.
type RegisterService struct {
	Name      string
	Scopes    []string
	Audiences []string
	Keys      []client.PublicKey
	// NoSecret skips the secret; it needs at least one key.
	NoSecret bool
	// RateLimit is the client's own request budget (nil: the defaults).
	RateLimit *client.RateLimit
	// DPoPBound makes DPoP mandatory for the client's token requests
	// (dpop_bound_access_tokens, RFC 9449 §5.2).
	DPoPBound bool
	// DPoPNonce makes its proofs carry a server nonce (RFC 9449 §8).
	DPoPNonce bool
}

// RegisteredService is the result. ClientSecret is shown once and never
// stored; it is empty when only keys were registered.
type RegisteredService struct {
	ServiceChange
	ClientSecret string
}

// LogValue keeps the secret out of logs.
func (r RegisteredService) LogValue() slog.Value {
	return slog.GroupValue(slog.String("client_id", string(r.Client.ID)), slog.Uint64("position", r.Position))
}

// Register appends the new client's stream (expected: no stream).
func (s *Services) Register(ctx context.Context, cmd RegisterService, meta Metadata) (_ RegisteredService, err error) {
	ctx, end := startCommand(ctx, "RegisterService")
	defer func() { end(err) }()
	rid, err := s.randomHex(12)
	if err != nil {
		return RegisteredService{}, err
	}
	id := client.ID(client.IDPrefix + rid)
	reg := client.Registration{ID: id, Name: cmd.Name, Scopes: cmd.Scopes, Audiences: cmd.Audiences, Keys: cmd.Keys, RateLimit: cmd.RateLimit, DPoPBound: cmd.DPoPBound, DPoPNonce: cmd.DPoPNonce}
	var secret string
	if !cmd.NoSecret {
		var ns client.NewSecret
		secret, ns, err = s.newSecret()
		if err != nil {
			return RegisteredService{}, err
		}
		reg.Secret = &ns
	}
	ch, err := s.updateClient(ctx, id, meta, func(c *client.Client, now time.Time) error { return c.Register(reg, now) })
	if err != nil {
		return RegisteredService{}, err
	}
	return RegisteredService{ServiceChange: ch, ClientSecret: secret}, nil
}
