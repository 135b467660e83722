package audit

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/authledger/authledger/domain/checkpoint"
	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/domain/keyring"
	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/domain/token"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/queries"
)

// Types is every stored event type the audit model tells: one entry per
// ledger event of these types. A new event type is added here with its
// sentence in describe (the table test fails for a type without one).
var Types = slices.Concat(
	[]string{session.TypeStarted, session.TypeElevated, session.TypeEnded},
	[]string{refreshtoken.TypeStarted, refreshtoken.TypeRotated, refreshtoken.TypeReuseDetected, refreshtoken.TypeRevoked, refreshtoken.TypeRejected},
	[]string{token.TypeIssued, token.TypeAccessTokenRevoked},
	keyring.Types,
	client.EventTypes,
	[]string{checkpoint.TypeSigned},
)

// lookup names the start whose subject, client, session or family an
// event that does not carry them inherits: a rotation names only its
// family, and the family's start names the subject.
type lookup struct {
	column string // "family", "session_id" or "jti"
	value  string
}

// describe turns one record into its entry, through the domain codecs, so
// upcasters reach the audit model too. It does no I/O: the caller resolves
// the lookup it returns, if any.
func describe(r eventstore.Record) (queries.AuditEntry, *lookup, error) {
	e := queries.AuditEntry{Position: r.Position, Hash: r.Hash, Stream: r.Stream, Type: r.Type, RecordedAt: r.RecordedAt.UTC(), Actor: actorOf(r.Metadata)}
	var lk *lookup
	family := func(id string) *lookup {
		return &lookup{column: "family", value: id}
	}
	switch {
	case strings.HasPrefix(r.Type, "session."):
		ev, err := session.Decode(r.Type, r.Data)
		if err != nil {
			return e, nil, err
		}
		switch ev := ev.(type) {
		case session.Started:
			e.Subject, e.Client, e.Session, e.Family = ev.Subject, ev.ClientID, ev.ID, ev.Family
			e.Summary = "session started" + methods(ev.ACR, ev.AMR)
		case session.Elevated:
			e.Client, e.Session = ev.ClientID, ev.ID
			e.Summary = "session elevated" + methods(ev.ACR, ev.AMR)
			lk = &lookup{column: "session_id", value: ev.ID}
		case session.Ended:
			e.Subject, e.Session = ev.Subject, ev.ID
			e.Summary = "session ended: " + sessionEndReason(ev.Reason)
			lk = &lookup{column: "session_id", value: ev.ID}
		}
	case strings.HasPrefix(r.Type, "refreshtoken."):
		ev, err := refreshtoken.Decode(r.Type, r.Data)
		if err != nil {
			return e, nil, err
		}
		switch ev := ev.(type) {
		case refreshtoken.Started:
			e.Subject, e.Client, e.Session, e.Family = ev.Subject, ev.ClientID, ev.SessionID, ev.Family.String()
			e.KeyID = ev.KeyID
			e.Summary = "refresh token issued (new family)"
		case refreshtoken.Rotated:
			e.Family = ev.Family.String()
			e.Summary = fmt.Sprintf("refresh token used: rotated to generation %d", ev.Generation)
			lk = family(e.Family)
		case refreshtoken.ReuseDetected:
			e.Family, e.Client = ev.Family.String(), ev.ClientID
			e.Summary = fmt.Sprintf("refresh token reused (generation %d presented again): family revoked", ev.Generation)
			lk = family(e.Family)
		case refreshtoken.Revoked:
			e.Family, e.Session = ev.Family.String(), ev.SessionID
			e.Summary = "refresh token family revoked: " + familyRevokeReason(ev.Reason)
			lk = family(e.Family)
		case refreshtoken.Rejected:
			e.Client = ev.ClientID
			e.Summary = "refresh token refused: " + ev.Reason
			if ev.Family != nil {
				e.Family = ev.Family.String()
				lk = family(e.Family)
			}
		}
	case strings.HasPrefix(r.Type, "token."):
		ev, err := token.Decode(r.Type, r.Data)
		if err != nil {
			return e, nil, err
		}
		switch ev := ev.(type) {
		case token.IssuedEvent:
			e.JTI, e.Client, e.Session, e.Family, e.KeyID = ev.JTI, ev.ClientID, ev.SessionID, ev.FamilyID, ev.KeyID
			if ev.Class == token.M2M {
				// An M2M token's sub is its client, not a person.
				e.Summary = "service token issued"
			} else {
				e.Subject = ev.Subject
				e.Summary = "access token issued"
			}
			if ev.Scope != "" {
				e.Summary += " (scope " + ev.Scope + ")"
			}
		case token.AccessTokenRevoked:
			e.JTI, e.Client = ev.JTI, ev.ClientID
			e.Summary = "access token revoked"
			lk = &lookup{column: "jti", value: ev.JTI}
		}
	case strings.HasPrefix(r.Type, "keyring."):
		ev, err := keyring.Decode(r.Type, r.Data)
		if err != nil {
			return e, nil, err
		}
		switch ev := ev.(type) {
		case keyring.KeyPublished:
			e.KeyID, e.Summary = ev.KID, "signing key published"
		case keyring.KeyActivated:
			e.KeyID, e.Summary = ev.KID, "signing key activated"
		case keyring.KeyRetired:
			e.KeyID, e.Summary = ev.KID, "signing key retired"
		case keyring.KeyDropped:
			e.KeyID, e.Summary = ev.KID, "signing key dropped from the JWKS"
		case keyring.KeyRevoked:
			e.KeyID, e.Summary = ev.KID, "signing key revoked"
			if ev.Reason != "" {
				e.Summary += ": " + ev.Reason
			}
		}
	case strings.HasPrefix(r.Type, "client."):
		ev, err := client.Decode(r.Type, r.Data)
		if err != nil {
			return e, nil, err
		}
		e.Client = strings.TrimPrefix(r.Stream, "client-")
		switch ev := ev.(type) {
		case client.Registered:
			e.Client = string(ev.Client)
			e.Summary = "service registered (scopes " + strings.Join(ev.Scopes, " ") + ")"
		case client.SecretAdded:
			e.Summary = "service secret added"
		case client.SecretRotated:
			e.Summary = "service secret rotated"
		case client.SecretRevoked:
			e.Summary = "service secret revoked"
		case client.KeyAdded:
			e.KeyID, e.Summary = ev.Key.KeyID, "service public key added"
		case client.KeyRemoved:
			e.KeyID, e.Summary = ev.KeyID, "service public key removed"
		case client.ScopesChanged:
			e.Summary = "service scopes changed to " + strings.Join(ev.Scopes, " ")
		case client.AudiencesChanged:
			e.Summary = "service audiences changed to " + strings.Join(ev.Audiences, " ")
		case client.Disabled:
			e.Summary = "service disabled"
			if ev.Reason != "" {
				e.Summary += ": " + ev.Reason
			}
		}
	case strings.HasPrefix(r.Type, "checkpoint."):
		ev, err := checkpoint.Decode(r.Type, r.Data)
		if err != nil {
			return e, nil, err
		}
		if ev, ok := ev.(checkpoint.Signed); ok {
			e.Summary = fmt.Sprintf("ledger head signed at position %d", ev.Position)
		}
	}
	if e.Summary == "" {
		// A type listed in Types but without a sentence, or one its codec
		// does not know: say so rather than invent one.
		e.Summary = "event " + r.Type
	}
	return e, lk, nil
}

func methods(acr string, amr []string) string {
	var parts []string
	if len(amr) > 0 {
		parts = append(parts, "with "+strings.Join(amr, ", "))
	}
	if acr != "" {
		parts = append(parts, "acr "+acr)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

func sessionEndReason(reason string) string {
	switch reason {
	case "logout":
		return "signed out"
	case "revoked":
		return "ended by request"
	case "expired":
		return "expired"
	case "refresh_reuse":
		return "a reused refresh token revoked its family"
	case "refresh_revoked":
		return "its refresh token family was revoked"
	}
	return reason
}

func familyRevokeReason(reason string) string {
	switch reason {
	case "reuse":
		return "a spent token was presented again"
	case "revoked":
		return "revoked by the client (RFC 7009)"
	case "session_ended", "logout":
		return "its session ended"
	}
	return reason
}

// actorOf reads the metadata actor; metadata that is not a JSON object
// names none (the ledger stores what commands wrote, checked at append).
func actorOf(meta json.RawMessage) string {
	var m struct {
		Actor string `json:"actor"`
	}
	if len(meta) == 0 || json.Unmarshal(meta, &m) != nil {
		return ""
	}
	return m.Actor
}
