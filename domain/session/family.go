package session

import (
	"time"

	"github.com/authledger/authledger/domain/refreshtoken"
)

// A session and its refresh family live and die together
// (docs/refresh-tokens.md): ending the session revokes the family, and a
// revocation of the family (reuse of a spent token, an RFC 7009 request)
// ends the session, in the same append, so every read model and auditor
// sees why. These two functions are that rule; the use cases call them.

// FamilyRevokedBySessionEnd is the family revocation reason recorded when
// the session ended first.
const FamilyRevokedBySessionEnd = "session_ended"

// EndWithFamily ends s for reason and revokes its family f (nil when the
// session has none, or the family stream is empty). It reports whether the
// session ended now; ending an ended session decides nothing.
func EndWithFamily(s *Session, f *refreshtoken.Family, reason, actor string, now, accessUntil time.Time) (bool, error) {
	ended, err := s.End(reason, actor, now, accessUntil)
	if err != nil || !ended {
		return false, err
	}
	if f != nil {
		f.Revoke(FamilyRevokedBySessionEnd, now, accessUntil)
	}
	return true, nil
}

// FollowFamily ends s when f has just decided a revocation that the
// session did not cause. It reports whether it ended the session; a
// session that does not exist or already ended decides nothing.
func FollowFamily(s *Session, f *refreshtoken.Family, actor string) (bool, error) {
	rev, ok := pendingRevocation(f)
	if !ok || rev.Reason == FamilyRevokedBySessionEnd || !s.Exists() {
		return false, nil
	}
	return s.End(endReason(rev.Reason), actor, rev.At, rev.AccessUntil)
}

// RevocationToFollow returns the session a family's pending revocation
// must end, if any: what a use case loads before calling FollowFamily.
func RevocationToFollow(f *refreshtoken.Family) (sessionID string, ok bool) {
	rev, ok := pendingRevocation(f)
	if !ok || rev.SessionID == "" || rev.Reason == FamilyRevokedBySessionEnd {
		return "", false
	}
	return rev.SessionID, true
}

func pendingRevocation(f *refreshtoken.Family) (refreshtoken.Revoked, bool) {
	var rev refreshtoken.Revoked
	found := false
	for _, e := range f.Pending() {
		if r, ok := e.(refreshtoken.Revoked); ok {
			rev, found = r, true
		}
	}
	return rev, found
}

// endReason is the Ended reason for a family revocation.
func endReason(familyReason string) string {
	if familyReason == "reuse" {
		return "refresh_reuse"
	}
	return "refresh_revoked"
}
