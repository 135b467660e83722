// Package commands holds one handler per use case: load the smallest write
// model from the ledger, ask the domain to decide, append with expected
// versions, return the result. Interfaces here are the ports commands need.
package commands

import (
	"context"

	"authledger/domain/token"
)

// Signer issues access and M2M JWTs with the active signing key and records
// each issuance in the ledger (token-<jti> stream). meta is the event
// metadata (correlation id, actor, request id).
type Signer interface {
	Sign(ctx context.Context, c token.Claims, meta Metadata) (token.Issued, error)
}

// Metadata is carried into every event's metadata. No secret belongs here.
type Metadata struct {
	CorrelationID string `json:"correlation_id,omitempty"`
	CausationID   string `json:"causation_id,omitempty"`
	Actor         string `json:"actor,omitempty"`
	RequestID     string `json:"request_id,omitempty"`
}
