package refreshtoken

import (
	"time"

	"github.com/authledger/authledger/domain/event"
	"github.com/authledger/authledger/domain/token"
)

var codec = event.NewCodec[Event]("refreshtoken", event.Lenient(),
	event.Register[Started](),
	event.Register[Rotated](),
	event.Register[ReuseDetected](),
	event.Register[Revoked](),
	event.Register[Rejected](),
	event.Register[Elevated](),
	event.Upcast(TypeStarted, boundLegacyStart),
)

// Decode turns a stored event into its newest shape. The codec is
// lenient: an unknown type yields (nil, nil), so a stream may carry events
// this version does not know and readers skip them.
func Decode(typ string, data []byte) (Event, error) { return codec.Decode(typ, data) }

// boundLegacyStart upcasts a family_started.v1 recorded before not_after
// existed: it gets the refresh class bound from its start, cut at the
// longest a session can live (token.Bound) when the family belongs to a
// session, since the session's own expiry was not recorded with it. A start
// that carries its bound is returned unchanged.
func boundLegacyStart(s Started) Started {
	if !s.NotAfter.IsZero() {
		return s
	}
	var sessionEnd time.Time
	if s.SessionID != "" {
		sessionEnd = s.At.Add(token.Bound(token.Session).Lifetime)
	}
	s.NotAfter = AbsoluteBound(s.At, 0, sessionEnd)
	return s
}
