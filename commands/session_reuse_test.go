package commands_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/domain/token"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/queries"
)

func TestRefreshReuseEndsTheSession(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newTokenFixture(t, nil)
	s := f.start(t, "login", "alice")
	sat, err := f.tok.AccessToken.Handle(ctx, s.SessionToken, meta)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "login"}, meta); err != nil {
		t.Fatal(err)
	}
	if _, err := f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "login"}, meta); !isInvalidGrant(err) {
		t.Fatalf("reuse: err = %v", err)
	}
	if got := countTypes(t, f.store, session.Stream(s.SessionID)); got[session.TypeEnded] != 1 {
		t.Fatalf("session events %v, want one ended", got)
	}
	// The end is in the same append as the revocation: adjacent positions.
	fam, err := f.store.ReadStream(ctx, s.Family.Stream())
	if err != nil {
		t.Fatal(err)
	}
	sess, err := f.store.ReadStream(ctx, session.Stream(s.SessionID))
	if err != nil {
		t.Fatal(err)
	}
	if rev, end := fam[len(fam)-1], sess[len(sess)-1]; rev.Type != refreshtoken.TypeRevoked || end.Position != rev.Position+1 {
		t.Fatalf("revocation at %d (%s), session end at %d", rev.Position, rev.Type, end.Position)
	}
	var ended session.Ended
	if err := json.Unmarshal(sess[len(sess)-1].Data, &ended); err != nil || ended.Reason != "refresh_reuse" {
		t.Fatalf("ended %+v err %v", ended, err)
	}
	// The cookie is dead at once, on this instance.
	if _, err := f.tok.AccessToken.Handle(ctx, s.SessionToken, meta); !errors.Is(err, session.ErrNotFound) && !errors.Is(err, session.ErrEnded) {
		t.Fatalf("cookie after reuse: err = %v", err)
	}
	if _, err := f.tok.Resolver.Resolve(ctx, s.SessionToken); err == nil {
		t.Fatal("the session still resolves after reuse")
	}
	// Tokens bound to the session (sid) die through the ledger feed.
	f.catchUp(t)
	if in, _ := f.tok.Introspector.Introspect(ctx, sat.AccessToken, "", queries.Caller{ClientID: "login"}); in.Active {
		t.Fatal("the session's access token is still active after reuse")
	}
}

func TestRefreshReuseEndsTheSessionEvenWhenTheStoreKeepsIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newTokenFixture(t, nil)
	s := f.start(t, "login", "alice")
	rec, err := f.sessions.Get(ctx, s.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "login"}, meta)
	if _, err := f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "login"}, meta); !isInvalidGrant(err) {
		t.Fatalf("reuse: err = %v", err)
	}
	// Another instance's session store that missed the delete: the
	// revocation set, fed by the ledger, still refuses the cookie.
	if err := f.sessions.Create(ctx, rec, time.Hour); err != nil {
		t.Fatal(err)
	}
	f.catchUp(t)
	if _, err := f.tok.AccessToken.Handle(ctx, s.SessionToken, meta); !errors.Is(err, session.ErrEnded) {
		t.Fatalf("cookie after reuse: err = %v, want session ended", err)
	}
}

func TestRevokingTheRefreshTokenEndsItsSession(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newTokenFixture(t, nil)
	s := f.start(t, "login", "alice")
	if err := f.tok.Revoke.Handle(ctx, commands.RevokeToken{Token: s.RefreshToken, ClientID: "login"}, meta); err != nil {
		t.Fatal(err)
	}
	if got := countTypes(t, f.store, session.Stream(s.SessionID)); got[session.TypeEnded] != 1 {
		t.Fatalf("session events %v", got)
	}
	if _, err := f.tok.Resolver.Resolve(ctx, s.SessionToken); err == nil {
		t.Fatal("the session outlives its revoked refresh family")
	}
	// Logging out afterwards is still a quiet success.
	if err := f.tok.EndSession.Handle(ctx, commands.EndSession{SessionID: s.SessionID, Subject: "alice"}, meta); err != nil {
		t.Fatal(err)
	}
}

func TestASessionFamilyDiesWithItsSession(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newTokenFixture(t, nil)
	s := f.start(t, "login", "alice")
	rt := s.RefreshToken
	// Refresh every 11 hours: each rotation asks for 14 more days, but
	// nothing outlives the session's 12-hour absolute expiry.
	f.clock.Add(11 * time.Hour)
	p, err := f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: rt, ClientID: "login"}, meta)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := f.codec.Open(p.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if want := s.ExpiresAt.Truncate(time.Second); !cl.ExpiresAt.Equal(want) {
		t.Fatalf("successor expires %s, want the session's end %s", cl.ExpiresAt, want)
	}
	f.clock.Add(time.Hour)
	if _, err := f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: p.RefreshToken, ClientID: "login"}, meta); !isInvalidGrant(err) {
		t.Fatalf("refresh past the session's end: err = %v", err)
	}
}

func TestEveryAppendedEventNamesItsActor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newTokenFixture(t, nil)
	none := commands.Metadata{RequestID: "r1"} // what the API passes: no actor
	s, err := f.tok.StartSession.Handle(ctx, commands.StartSession{ClientID: "login", Subject: "alice", ACR: "aal1"}, none)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.tok.Elevate.Handle(ctx, commands.ElevateSession{SessionID: s.SessionID, ClientID: "login", ACR: "aal2"}, none); err != nil {
		t.Fatal(err)
	}
	if _, err := f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "login"}, none); err != nil {
		t.Fatal(err)
	}
	_, _ = f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "login"}, none) // reuse
	_, _ = f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: "garbage", ClientID: "login"}, none)      // rejected
	s2 := f.start(t, "login", "bob")
	if _, err := f.tok.AccessToken.Handle(ctx, s2.SessionToken, none); err != nil {
		t.Fatal(err)
	}
	if err := f.tok.Revoke.Handle(ctx, commands.RevokeToken{Token: s2.AccessToken, ClientID: "login"}, none); err != nil {
		t.Fatal(err)
	}
	if err := f.tok.EndSession.Handle(ctx, commands.EndSession{SessionID: s2.SessionID, Subject: "bob"}, none); err != nil {
		t.Fatal(err)
	}
	recs, err := f.store.ReadAll(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		session.TypeStarted: "client:login", session.TypeElevated: "client:login",
		refreshtoken.TypeStarted: "client:login", refreshtoken.TypeRotated: "client:login",
		refreshtoken.TypeReuseDetected: "client:login", refreshtoken.TypeRejected: "client:login",
		token.TypeAccessTokenRevoked: "client:login",
	}
	seen := map[string]bool{}
	for _, r := range recs {
		var md commands.Metadata
		if err := json.Unmarshal(r.Metadata, &md); err != nil {
			t.Fatalf("%s at %d: metadata %s", r.Type, r.Position, r.Metadata)
		}
		if md.Actor == "" {
			t.Errorf("%s at %d (%s) has no actor", r.Type, r.Position, r.Stream)
			continue
		}
		seen[r.Type] = true
		exp, ok := want[r.Type]
		switch {
		case r.Type == session.TypeEnded || r.Type == refreshtoken.TypeRevoked:
			exp, ok = endActor(t, r), true
		case r.Type == token.TypeIssued:
			var ti token.IssuedEvent
			if err := json.Unmarshal(r.Data, &ti); err != nil {
				t.Fatal(err)
			}
			// Minted from a refresh family by the login client, or from
			// bob's cookie (no family) by bob himself.
			exp, ok = "client:login", true
			if ti.FamilyID == "" {
				exp = "subject:" + ti.Subject
			}
		}
		if ok && md.Actor != exp {
			t.Errorf("%s at %d: actor %q, want %q", r.Type, r.Position, md.Actor, exp)
		}
	}
	for typ := range want {
		if !seen[typ] {
			t.Errorf("no %s was appended; the test did not exercise it", typ)
		}
	}
}

// endActor is who ended a session or revoked a family: bob logged out, the
// login client's reuse ended alice's.
func endActor(t *testing.T, r eventstore.Record) string {
	t.Helper()
	var v struct {
		ID     string `json:"id"`
		Reason string `json:"reason"`
	}
	_ = json.Unmarshal(r.Data, &v)
	if v.Reason == "logout" || v.Reason == "session_ended" {
		return "subject:bob"
	}
	return "client:login"
}

func TestARefreshAfterTheSessionEndedIssuesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newTokenFixture(t, nil)
	s := f.start(t, "login", "alice")
	// A first refresh puts the family in this instance's cache.
	p, err := f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "login"}, meta)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.tok.EndSession.Handle(ctx, commands.EndSession{SessionID: s.SessionID, Subject: "alice"}, meta); err != nil {
		t.Fatal(err)
	}
	head, err := f.store.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: p.RefreshToken, ClientID: "login"}, meta); !isInvalidGrant(err) {
		t.Fatalf("refresh after the session ended: err = %v", err)
	}
	after, err := f.store.ReadAll(ctx, head.Position, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range after {
		if r.Type == token.TypeIssued {
			t.Fatalf("an access token was signed and recorded (position %d) for a family the session's end had revoked", r.Position)
		}
	}
}
