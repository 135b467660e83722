package refreshtoken

import (
	"time"

	"github.com/authledger/authledger/domain/token"
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

// NotAfter is the family's absolute bound, recorded at its start. (A
// family recorded before the bound was gets one derived by the codec's
// upcaster, boundLegacyStart: the aggregate only sees the newest shape.)
func (f *Family) NotAfter() time.Time { return f.start.NotAfter }
