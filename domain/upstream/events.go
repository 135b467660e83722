// Package upstream holds the ledger events of sign-ins through an
// upstream OpenID provider: an RFC 8693 token exchange of an upstream ID
// token, or the browser authorization-code flow, each naming the upstream
// issuer and subject and the local subject they map to. Verification (the
// upstream's JWKS, iss, aud, exp, nonce, algorithms) is the login
// package's, with coreos/go-oidc; this package is pure.
package upstream

import (
	"time"

	"github.com/authledger/authledger/domain/event"
)

// Stored event names; part of the ledger format.
const (
	TypeSignedIn = "upstream.signed_in.v1"
	TypeRefused  = "upstream.refused.v1"
)

// Stream is the ledger stream of one configured provider's sign-ins.
func Stream(provider string) string { return "upstream-" + provider }

// Event is one upstream event.
type Event interface{ EventType() string }

// SignedIn records an accepted upstream ID token. Flow is
// "token_exchange" (RFC 8693, ClientID the calling client) or "browser"
// (the authorization-code flow of /login/oidc/<provider>).
type SignedIn struct {
	Provider        string    `json:"provider"`
	Issuer          string    `json:"issuer"`
	UpstreamSubject string    `json:"upstream_subject"`
	Subject         string    `json:"subject"`
	ClientID        string    `json:"client_id"`
	Flow            string    `json:"flow"`
	At              time.Time `json:"at"`
}

// Refused records an upstream ID token that was not accepted, and why
// (a short code: "signature", "audience", "expired", "issuer", "replay",
// "algorithm", "client", "claims", "nonce", "state").
type Refused struct {
	Provider string    `json:"provider,omitempty"`
	ClientID string    `json:"client_id,omitempty"`
	Flow     string    `json:"flow"`
	Reason   string    `json:"reason"`
	At       time.Time `json:"at"`
}

func (SignedIn) EventType() string { return TypeSignedIn }
func (Refused) EventType() string  { return TypeRefused }

var codec = event.NewCodec[Event]("upstream", event.Lenient(),
	event.Register[SignedIn](),
	event.Register[Refused](),
)

// Decode turns a stored event into its newest shape.
func Decode(typ string, data []byte) (Event, error) { return codec.Decode(typ, data) }
