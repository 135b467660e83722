package commands

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/secrets"
)

// ServicesConfig configures the service-registry commands.
type ServicesConfig struct {
	// Store is the ledger (required).
	Store eventstore.Store
	// Pepper keys the v2 hashes new secrets are stored as (required; see
	// LoadSecretPepper).
	Pepper client.Pepper
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the entropy source for ids and secrets; nil means crypto/rand.
	Rand io.Reader
	// RotationWindow is how long a rotated-away secret keeps working by
	// default, so deployments can roll the new secret out. Default 24 h.
	RotationWindow time.Duration
	// Publisher, if set, announces a disabled client's revocation (kind
	// "client") once the ledger holds it, so this instance refuses the
	// client's tokens from its next request and the others learn of it
	// before the feed delivers the event. nil: the feed alone (the CLI).
	Publisher RevocationPublisher
}

// Services registers and changes service clients (DESIGN.md §4 m2m).
type Services struct {
	clients *ClientRepository
	pepper  client.Pepper
	now     func() time.Time
	rand    io.Reader
	window  time.Duration
	publish RevocationPublisher
}

// NewServices validates cfg.
func NewServices(cfg ServicesConfig) (*Services, error) {
	if cfg.Store == nil {
		return nil, errors.New("commands: services: Store is required")
	}
	if cfg.Pepper.IsZero() {
		return nil, errors.New("commands: services: Pepper is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.RotationWindow == 0 {
		cfg.RotationWindow = 24 * time.Hour
	}
	if cfg.RotationWindow < 0 {
		return nil, errors.New("commands: services: RotationWindow must not be negative")
	}
	return &Services{clients: Clients(cfg.Store).WithAttempts(maxOperatorAttempts), pepper: cfg.Pepper, now: cfg.Now, rand: cfg.Rand, window: cfg.RotationWindow, publish: cfg.Publisher}, nil
}

// ServiceChange is what every service command returns: the client's state
// after the change and the ledger position that holds it, so a caller can
// wait for the registry to catch up (read-your-writes).
type ServiceChange struct {
	Client   client.View
	Position uint64
}

// maxOperatorAttempts bounds the decisions of one client change: operators
// changing one client at once must each land (each loser decides again on
// the newer state, after a jittered pause), so the bound is generous.
const maxOperatorAttempts = 16

// updateClient lets fn decide on client id and appends its decision at the
// loaded version (Repository.Update reloads on a conflict, so the decision
// is made again on the newer state).
func (s *Services) updateClient(ctx context.Context, id client.ID, meta Metadata, fn func(c *client.Client, now time.Time) error) (ServiceChange, error) {
	if !client.ValidID(string(id)) {
		return ServiceChange{}, client.ErrNotRegistered
	}
	c, err := s.clients.Update(ctx, id, meta, func(c *client.Client) ([]Changed, error) { return nil, fn(c, s.now()) })
	if err != nil {
		return ServiceChange{}, err
	}
	return ServiceChange{Client: c.Aggregate.View(), Position: c.Position}, nil
}

func (s *Services) randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return "", fmt.Errorf("commands: entropy: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// newSecret draws a 256-bit secret; only its hash leaves this function
// apart from the return value handed to the operator once.
func (s *Services) newSecret() (string, client.NewSecret, error) {
	b := make([]byte, client.SecretBytes)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return "", client.NewSecret{}, fmt.Errorf("commands: entropy: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(b)
	id, err := s.randomHex(6)
	if err != nil {
		return "", client.NewSecret{}, err
	}
	return secret, client.NewSecret{ID: "sec-" + id, Hash: s.pepper.Hash(secret)}, nil
}

// SecretPepperName is the secret (in the secrets.Provider) whose value keys
// the v2 client secret hashes: HMAC-SHA-256(pepper, secret). It is never
// in the ledger, so an export alone cannot confirm a guessed secret.
const SecretPepperName = "client-secret-pepper"

// LoadSecretPepper reads the pepper from the provider, generating it on
// first start (no secret is ever a default). The pepper is the secret's
// first version when the provider numbers versions (local: "1"), else its
// newest: if two instances generate one at the same first start, both
// settle on version 1. Rotating the pepper would orphan every v2 hash, so
// a later version is ignored; rotate client secrets instead. rnd may be nil.
func LoadSecretPepper(ctx context.Context, p secrets.Provider, rnd io.Reader) (client.Pepper, error) {
	if p == nil {
		return client.Pepper{}, errors.New("secret pepper: no secret provider")
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	sec, err := p.GetVersion(ctx, SecretPepperName, "1")
	if errors.Is(err, secrets.ErrNotFound) {
		sec, err = p.Get(ctx, SecretPepperName)
	}
	if errors.Is(err, secrets.ErrNotFound) {
		k := make([]byte, client.MinPepperBytes)
		if _, err := io.ReadFull(rnd, k); err != nil {
			return client.Pepper{}, fmt.Errorf("secret pepper: %w", err)
		}
		_, putErr := p.Put(ctx, SecretPepperName, k)
		clear(k)
		if putErr != nil {
			return client.Pepper{}, fmt.Errorf("secret pepper: store: %w", putErr)
		}
		// Read back rather than use k: if another instance generated one at
		// the same moment, both settle on the provider's first version.
		if sec, err = p.GetVersion(ctx, SecretPepperName, "1"); errors.Is(err, secrets.ErrNotFound) {
			sec, err = p.Get(ctx, SecretPepperName)
		}
	}
	if err != nil {
		return client.Pepper{}, fmt.Errorf("secret pepper: %w", err)
	}
	pepper, err := client.NewPepper(sec.Value.Bytes())
	if err != nil {
		return client.Pepper{}, fmt.Errorf("secret pepper %s: %w", SecretPepperName, err)
	}
	return pepper, nil
}
