package refreshtoken

import (
	"slices"
	"time"
)

// TypeElevated is recorded in a family's stream when its session is
// stepped up (session.elevated.v1 in the same append): access tokens
// minted from the family afterwards carry the new acr, amr and auth_time;
// tokens minted before keep theirs.
const TypeElevated = "refreshtoken.elevated.v1"

// Elevated raises the family's authentication context.
type Elevated struct {
	Family   FamilyID  `json:"family"`
	ACR      string    `json:"acr"`
	AMR      []string  `json:"amr,omitempty"`
	AuthTime time.Time `json:"auth_time"`
	At       time.Time `json:"at"`
}

// EventType implements Event.
func (Elevated) EventType() string { return TypeElevated }

// Elevate records a step-up of the family's session. A revoked family
// stays revoked and records nothing.
func (f *Family) Elevate(acr string, amr []string, authTime, now time.Time) error {
	if !f.started {
		return ErrUnknownFamily
	}
	if f.revoked {
		return ErrFamilyRevoked
	}
	f.record(Elevated{Family: f.id, ACR: acr, AMR: slices.Clone(amr), AuthTime: authTime, At: now})
	return nil
}
