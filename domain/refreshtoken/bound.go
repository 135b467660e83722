package refreshtoken

import (
	"time"

	"authledger/domain/token"
)

// AbsoluteBound is the latest moment any token of a family started at start
// may be used: lifetime from the start (the refresh class lifetime; zero or
// anything longer than the class bound of domain/token means the class
// bound), cut at sessionExpiresAt when the family belongs to a session (a
// zero sessionExpiresAt means it does not). Rotation renews a token's own
// expiry but never moves this bound, so a stolen family cannot be kept
// alive forever by refreshing it. The result is whole seconds, as tokens
// carry their expiry.
func AbsoluteBound(start time.Time, lifetime time.Duration, sessionExpiresAt time.Time) time.Time {
	classMax := token.Bound(token.Refresh).Lifetime
	if lifetime <= 0 || lifetime > classMax {
		lifetime = classMax
	}
	b := start.UTC().Add(lifetime)
	if !sessionExpiresAt.IsZero() && sessionExpiresAt.Before(b) {
		b = sessionExpiresAt.UTC()
	}
	return b.Truncate(time.Second)
}

// NotAfter is the family's absolute bound: the one recorded at its start,
// or, for a family recorded before the bound was, the class bound from its
// start cut at the longest a session can live (token.Bound) when the
// family belongs to a session, since the session's own expiry was not
// recorded with it.
func (f *Family) NotAfter() time.Time {
	if !f.start.NotAfter.IsZero() {
		return f.start.NotAfter
	}
	var sessionEnd time.Time
	if f.start.SessionID != "" {
		sessionEnd = f.start.At.Add(token.Bound(token.Session).Lifetime)
	}
	return AbsoluteBound(f.start.At, 0, sessionEnd)
}
