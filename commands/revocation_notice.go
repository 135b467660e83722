package commands

import (
	"context"
	"time"

	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/domain/session"
)

// revocationNotice tells the other instances what a committed decision
// revoked and drops an ended session from the live store. Both are best
// effort by design: the ledger feed delivers every revocation, and with the
// store down the cookie still dies, because session resolution consults
// the sid the ledger event put in the revocation set.
type revocationNotice struct {
	publisher RevocationPublisher
	live      SessionWriter
}

func (n revocationNotice) publish(ctx context.Context, kind, id string, until time.Time) {
	_ = n.publisher.PublishRevocation(context.WithoutCancel(ctx), kind, id, until)
}

// familyRevoked announces the revocations a committed family decision
// holds, and the end of its session when sessionEnded.
func (n revocationNotice) familyRevoked(ctx context.Context, f *refreshtoken.Family, sessionEnded bool) {
	for _, e := range f.Pending() {
		r, ok := e.(refreshtoken.Revoked)
		if !ok {
			continue
		}
		n.publish(ctx, "family", r.Family.String(), r.AccessUntil)
		if sessionEnded {
			n.publish(ctx, "sid", r.SessionID, r.AccessUntil)
			_ = n.live.Delete(context.WithoutCancel(ctx), r.SessionID)
		}
	}
}

// followFamily loads the session a family's pending revocation must end and
// decides its end (session.FollowFamily): the decision the revocation
// commits with. It returns nil when there is none.
func followFamily(ctx context.Context, sessions *SessionRepository, f *refreshtoken.Family, actor string) ([]Changed, bool, error) {
	sid, ok := session.RevocationToFollow(f)
	if !ok {
		return nil, false, nil
	}
	s, err := sessions.Load(ctx, sid)
	if err != nil {
		return nil, false, err
	}
	ended, err := session.FollowFamily(s, f, actor)
	if err != nil || !ended {
		return nil, false, err
	}
	return []Changed{Changes(s)}, true, nil
}
