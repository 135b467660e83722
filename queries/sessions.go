package queries

import (
	"context"
	"errors"
	"time"

	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/domain/token"
)

// Sessions lists a subject's live sessions.
type Sessions struct {
	live   SessionLister
	policy token.Policy
	now    func() time.Time
}

// NewSessions builds the query; now nil means time.Now.
func NewSessions(live SessionLister, policy token.Policy, now func() time.Time) *Sessions {
	if now == nil {
		now = time.Now
	}
	return &Sessions{live: live, policy: policy, now: now}
}

// List returns subject's live sessions: the store's records of that
// subject whose idle and absolute timeouts have not passed.
func (q *Sessions) List(ctx context.Context, subject string) ([]session.Record, error) {
	recs, err := q.live.ListBySubject(ctx, subject)
	if err != nil {
		return nil, err
	}
	now := q.now().UTC()
	c := q.policy.Class(token.Session)
	out := recs[:0]
	for _, r := range recs {
		if r.Subject != subject {
			continue
		}
		if err := session.CheckExpiry(r.CreatedAt, r.LastSeen, now, c.IdleTimeout, c.Lifetime); errors.Is(err, session.ErrExpired) {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}
