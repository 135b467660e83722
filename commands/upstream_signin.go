package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/authledger/authledger/domain/upstream"
	"github.com/authledger/authledger/eventstore"
)

// ACRUpstream is the acr of a session started from an upstream ID token:
// the upstream's assurance is not ours to vouch for, so it is below
// ACRUserVerified and never satisfies step-up.
const ACRUpstream = "urn:authledger:acr:upstream"

// UpstreamSignIn is an upstream ID token the login module verified,
// mapped to a local subject. ClientID is the client the session and its
// refresh token are bound to: the caller of the token exchange, or
// LoginClientID for the browser flow.
type UpstreamSignIn struct {
	Provider        string
	Issuer          string
	UpstreamSubject string
	Subject         string
	ClientID        string
	Flow            string // "token_exchange" or "browser"
	AMR             []string
}

// UpstreamSignInHandler records the sign-in and starts the session
// through the same command as POST /v1/sessions.
type UpstreamSignInHandler struct {
	store eventstore.Store
	start SessionStarter
	now   func() time.Time
}

// NewUpstreamSignInHandler builds the handler.
func NewUpstreamSignInHandler(store eventstore.Store, start SessionStarter, now func() time.Time) *UpstreamSignInHandler {
	return &UpstreamSignInHandler{store: store, start: start, now: now}
}

// Handle appends upstream.signed_in.v1, then starts the session.
func (h *UpstreamSignInHandler) Handle(ctx context.Context, cmd UpstreamSignIn, meta Metadata) (StartedSession, error) {
	if err := checkSubject(cmd.Subject); err != nil {
		return StartedSession{}, err
	}
	meta = meta.as(ClientActor(cmd.ClientID))
	ev := upstream.SignedIn{Provider: cmd.Provider, Issuer: cmd.Issuer, UpstreamSubject: cmd.UpstreamSubject, Subject: cmd.Subject,
		ClientID: cmd.ClientID, Flow: cmd.Flow, At: h.now().UTC()}
	if _, err := AppendAll(ctx, h.store, meta, Record(upstream.Stream(cmd.Provider), ev)); err != nil {
		return StartedSession{}, fmt.Errorf("upstream sign-in: %w", err)
	}
	return h.start.Handle(ctx, StartSession{ClientID: cmd.ClientID, Subject: cmd.Subject, AMR: cmd.AMR, ACR: ACRUpstream}, meta)
}

// Refuse records a refused upstream token.
func (h *UpstreamSignInHandler) Refuse(ctx context.Context, provider, clientID, flow, reason string, meta Metadata) error {
	actor := "anonymous"
	if clientID != "" {
		actor = ClientActor(clientID)
	}
	stream := upstream.Stream("unknown")
	if provider != "" {
		stream = upstream.Stream(provider)
	}
	_, err := AppendAll(ctx, h.store, meta.as(actor), Record(stream, upstream.Refused{Provider: provider, ClientID: clientID, Flow: flow, Reason: reason, At: h.now().UTC()}))
	return err
}
