package commands_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authledger/authledger/client/verifier"
	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/oauth"
	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/queries"
)

var meta = commands.Metadata{Actor: "test"}

func TestRefreshRotatesAndReuseRevokesTheFamily(t *testing.T) {
	t.Parallel()
	f := newTokenFixture(t, nil)
	ctx := context.Background()
	s := f.start(t, "login", "alice")
	first, err := f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "login"}, meta)
	if err != nil {
		t.Fatal(err)
	}
	if first.RefreshToken == s.RefreshToken || first.AccessToken == "" || first.ExpiresIn != 600 {
		t.Fatalf("rotation answered %+v", first)
	}
	second, err := f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: first.RefreshToken, ClientID: "login"}, meta)
	if err != nil {
		t.Fatal(err)
	}
	// The thief replays the first token.
	if _, err := f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "login"}, meta); !isInvalidGrant(err) {
		t.Fatalf("reuse: err = %v, want invalid_grant", err)
	}
	fam := s.Family.Stream()
	got := countTypes(t, f.store, fam)
	if got[refreshtoken.TypeRotated] != 2 || got[refreshtoken.TypeReuseDetected] != 1 || got[refreshtoken.TypeRevoked] != 1 {
		t.Fatalf("family events %v", got)
	}
	// Every token of the family is dead now, the newest included.
	if _, err := f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: second.RefreshToken, ClientID: "login"}, meta); !isInvalidGrant(err) {
		t.Fatalf("after revocation: err = %v", err)
	}
	f.catchUp(t)
	for name, at := range map[string]string{"session start": s.AccessToken, "first refresh": first.AccessToken, "second refresh": second.AccessToken} {
		in, err := f.tok.Introspector.Introspect(ctx, at, "", queries.Caller{ClientID: "login"})
		if err != nil || in.Active {
			t.Errorf("%s access token: introspection active=%v err=%v", name, in.Active, err)
		}
	}
	for name, at := range map[string]string{"first refresh": first.AccessToken, "second refresh": second.AccessToken} {
		if _, err := f.verifier.Verify(ctx, at); !errors.Is(err, verifier.ErrRevoked) {
			t.Errorf("%s access token: verifier err = %v, want ErrRevoked", name, err)
		}
	}
	if in, _ := f.tok.Introspector.Introspect(ctx, second.RefreshToken, "", queries.Caller{ClientID: "login"}); in.Active {
		t.Error("a revoked family's refresh token introspects active")
	}
}

func TestRefreshWithinGraceReturnsTheSameSuccessor(t *testing.T) {
	t.Parallel()
	f := newTokenFixture(t, nil, withGrace(10*time.Second))
	ctx := context.Background()
	s := f.start(t, "login", "alice")
	a, err := f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "login"}, meta)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(5 * time.Second)
	b, err := f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "login"}, meta)
	if err != nil {
		t.Fatal(err)
	}
	if a.RefreshToken != b.RefreshToken || !b.GraceReplay {
		t.Fatal("a retry within grace got a different successor")
	}
	if n := countTypes(t, f.store, s.Family.Stream())[refreshtoken.TypeRotated]; n != 1 {
		t.Fatalf("%d rotations, want 1", n)
	}
	// The successor still works exactly once.
	if _, err := f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: b.RefreshToken, ClientID: "login"}, meta); err != nil {
		t.Fatal(err)
	}
}

func TestRefreshRefusesBadTokensAndRecordsOnlyTheFailure(t *testing.T) {
	t.Parallel()
	f := newTokenFixture(t, nil)
	ctx := context.Background()
	s := f.start(t, "login", "alice")
	other := newTokenFixture(t, nil)
	foreign := other.start(t, "login", "alice").RefreshToken
	flipped := []byte(s.RefreshToken)
	flipped[len(flipped)-10] ^= 0x02
	cl, _ := f.codec.Open(s.RefreshToken)
	expired := cl
	expired.ExpiresAt = f.clock.Now().Add(-time.Second)
	expiredTok, _ := f.codec.Seal(expired)
	cases := map[string]commands.RefreshGrant{
		"malformed":                        {RefreshToken: "not-a-token", ClientID: "login"},
		"empty":                            {RefreshToken: "", ClientID: "login"},
		"truncated":                        {RefreshToken: s.RefreshToken[:len(s.RefreshToken)-4], ClientID: "login"},
		"bit-flipped":                      {RefreshToken: string(flipped), ClientID: "login"},
		"sealed with a foreign key":        {RefreshToken: foreign, ClientID: "login"},
		"expired":                          {RefreshToken: expiredTok, ClientID: "login"},
		"presented by another client":      {RefreshToken: s.RefreshToken, ClientID: "mallory"},
		"a JWT instead of a refresh token": {RefreshToken: s.AccessToken, ClientID: "login"},
	}
	before, _ := f.store.Head(ctx)
	for name, g := range cases {
		if _, err := f.tok.Refresh.Handle(ctx, g, meta); !isInvalidGrant(err) {
			t.Errorf("%s: err = %v, want invalid_grant", name, err)
		}
	}
	recs, err := f.store.ReadAll(ctx, before.Position, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(cases) {
		t.Fatalf("%d events appended for %d refusals", len(recs), len(cases))
	}
	for _, r := range recs {
		if r.Type != refreshtoken.TypeRejected || r.Stream != refreshtoken.RejectionsStream {
			t.Fatalf("a refusal appended %s to %s", r.Type, r.Stream)
		}
		if strings.Contains(string(r.Data), s.RefreshToken) {
			t.Fatal("the audit event holds the token")
		}
	}
	// The family is untouched: its token still works.
	if _, err := f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "login"}, meta); err != nil {
		t.Fatalf("the family was harmed by bad input: %v", err)
	}
}

// raceRefresh has n goroutines present one token at once and checks the
// family never forks.
func raceRefresh(t *testing.T, store eventstore.Store, n int, grace time.Duration) {
	f := newTokenFixture(t, store, withGrace(grace))
	ctx := context.Background()
	s := f.start(t, "login", "alice")
	var wg sync.WaitGroup
	start := make(chan struct{})
	type result struct {
		pair commands.TokenPair
		err  error
	}
	results := make([]result, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			p, err := f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "login"}, meta)
			results[i] = result{p, err}
		}()
	}
	close(start)
	wg.Wait()
	ok := 0
	successors := map[string]bool{}
	for _, r := range results {
		switch {
		case r.err == nil:
			ok++
			successors[r.pair.RefreshToken] = true
		case !isInvalidGrant(r.err):
			t.Fatalf("unexpected error %v", r.err)
		}
	}
	got := countTypes(t, f.store, s.Family.Stream())
	if got[refreshtoken.TypeRotated] != 1 {
		t.Fatalf("%d rotations, want exactly 1 (events %v)", got[refreshtoken.TypeRotated], got)
	}
	if len(successors) != 1 {
		t.Fatalf("%d distinct successors: the family forked", len(successors))
	}
	if grace == 0 {
		if ok != 1 {
			t.Fatalf("%d winners, want 1", ok)
		}
		// The losers presented a spent token: that is reuse, recorded once.
		if n > 1 && (got[refreshtoken.TypeReuseDetected] != 1 || got[refreshtoken.TypeRevoked] != 1) {
			t.Fatalf("reuse not recorded exactly once: %v", got)
		}
	} else if ok != n || got[refreshtoken.TypeRevoked] != 0 {
		t.Fatalf("within grace: %d of %d succeeded, events %v", ok, n, got)
	}
	t.Logf("%d presentations: %d succeeded, family events %v", n, ok, got)
}

func TestFiftyConcurrentPresentationsRotateOnce(t *testing.T) {
	t.Parallel()
	t.Run("without grace", func(t *testing.T) { raceRefresh(t, nil, 50, 0) })
	t.Run("within grace", func(t *testing.T) { raceRefresh(t, nil, 50, 30*time.Second) })
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("revoking a refresh token revokes its family", func(t *testing.T) {
		f := newTokenFixture(t, nil)
		s := f.start(t, "login", "alice")
		if err := f.tok.Revoke.Handle(ctx, commands.RevokeToken{Token: s.RefreshToken, Hint: "refresh_token", ClientID: "login"}, meta); err != nil {
			t.Fatal(err)
		}
		if _, err := f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "login"}, meta); !isInvalidGrant(err) {
			t.Fatalf("err = %v", err)
		}
		f.catchUp(t)
		if in, _ := f.tok.Introspector.Introspect(ctx, s.AccessToken, "", queries.Caller{ClientID: "login"}); in.Active {
			t.Fatal("the family's access token is still active")
		}
	})
	t.Run("revoking an access token denies it until it expires", func(t *testing.T) {
		f := newTokenFixture(t, nil)
		s := f.start(t, "login", "alice")
		pair, err := f.tok.AccessToken.Handle(ctx, s.SessionToken, meta)
		if err != nil {
			t.Fatal(err)
		}
		if in, _ := f.tok.Introspector.Introspect(ctx, pair.AccessToken, "", queries.Caller{ClientID: "other", Scopes: []string{queries.IntrospectAnyScope}}); !in.Active || in.Subject != "alice" {
			t.Fatalf("before revocation: %+v", in)
		}
		if err := f.tok.Revoke.Handle(ctx, commands.RevokeToken{Token: pair.AccessToken, Hint: "access_token", ClientID: "login"}, meta); err != nil {
			t.Fatal(err)
		}
		f.catchUp(t)
		if in, _ := f.tok.Introspector.Introspect(ctx, pair.AccessToken, "", queries.Caller{ClientID: "login"}); in.Active {
			t.Fatal("revoked access token is active")
		}
		if _, err := f.verifier.Verify(ctx, pair.AccessToken); !errors.Is(err, verifier.ErrRevoked) {
			t.Fatalf("verifier: %v", err)
		}
		// The refresh family is untouched by an access-token revocation.
		if _, err := f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "login"}, meta); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("unknown tokens are not errors", func(t *testing.T) {
		f := newTokenFixture(t, nil)
		for _, tok := range []string{"", "garbage", "rt1.r1.AAAA", "a.b.c"} {
			if err := f.tok.Revoke.Handle(ctx, commands.RevokeToken{Token: tok, ClientID: "login"}, meta); err != nil {
				t.Errorf("%q: %v", tok, err)
			}
		}
	})
	t.Run("another client's token is refused and left alone", func(t *testing.T) {
		f := newTokenFixture(t, nil)
		s := f.start(t, "login", "alice")
		err := f.tok.Revoke.Handle(ctx, commands.RevokeToken{Token: s.RefreshToken, ClientID: "mallory"}, meta)
		if !errors.Is(err, oauth.ErrUnauthorizedClient) {
			t.Fatalf("err = %v", err)
		}
		if _, err := f.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "login"}, meta); err != nil {
			t.Fatal(err)
		}
	})
}

func TestIntrospectionOfRefreshTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newTokenFixture(t, nil)
	s := f.start(t, "login", "alice")
	// RFC 7662 §2.2: token_type is an RFC 6749 §7.1 access token type,
	// which a refresh token has none of.
	if in, _ := f.tok.Introspector.Introspect(ctx, s.RefreshToken, "refresh_token", queries.Caller{ClientID: "login"}); !in.Active || in.TokenType != "" || in.Subject != "alice" {
		t.Fatalf("own client: %+v", in)
	}
	if in, _ := f.tok.Introspector.Introspect(ctx, s.AccessToken, "", queries.Caller{ClientID: "login"}); !in.Active || in.TokenType != "Bearer" {
		t.Fatalf("access token: %+v, want active with token_type Bearer", in)
	}
	if in, _ := f.tok.Introspector.Introspect(ctx, s.RefreshToken, "", queries.Caller{ClientID: "other"}); in.Active {
		t.Fatal("another client learns about the refresh token")
	}
	f.clock.Add(15 * 24 * time.Hour)
	if in, _ := f.tok.Introspector.Introspect(ctx, s.RefreshToken, "", queries.Caller{ClientID: "login"}); in.Active {
		t.Fatal("an expired refresh token introspects active")
	}
	if in, _ := f.tok.Introspector.Introspect(ctx, s.AccessToken, "", queries.Caller{ClientID: "login"}); in.Active {
		t.Fatal("an expired access token introspects active")
	}
}

func TestTwoInstancesNeverTrustAStaleFamilyCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := newTokenFixture(t, nil)
	b := newTokenFixture(t, a.store, withCodec(a.codec))
	s := a.start(t, "login", "alice")
	t2, err := b.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "login"}, meta)
	if err != nil {
		t.Fatal(err)
	}
	t3, err := a.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: t2.RefreshToken, ClientID: "login"}, meta)
	if err != nil {
		t.Fatal(err)
	}
	// b still caches generation 2; the newer token must work on b anyway.
	t4, err := b.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: t3.RefreshToken, ClientID: "login"}, meta)
	if err != nil {
		t.Fatalf("a token minted by another instance was refused: %v", err)
	}
	// a caches generation 3; replaying t3 there is reuse, not a rotation.
	if _, err := a.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: t3.RefreshToken, ClientID: "login"}, meta); !isInvalidGrant(err) {
		t.Fatalf("replay on the stale instance: %v", err)
	}
	got := countTypes(t, a.store, s.Family.Stream())
	if got[refreshtoken.TypeRotated] != 3 || got[refreshtoken.TypeRevoked] != 1 {
		t.Fatalf("family events %v", got)
	}
	if _, err := b.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: t4.RefreshToken, ClientID: "login"}, meta); !isInvalidGrant(err) {
		t.Fatalf("revoked family on the other instance: %v", err)
	}
}

func TestIntrospectionDeniesTokensOfARevokedKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newTokenFixture(t, nil)
	s := f.start(t, "login", "alice")
	if in, _ := f.tok.Introspector.Introspect(ctx, s.AccessToken, "", queries.Caller{ClientID: "login"}); !in.Active {
		t.Fatal("a fresh token is inactive")
	}
	active, ok := f.jwks.ActiveKey()
	if !ok {
		t.Fatal("no active key")
	}
	if _, err := f.keys.Revoke(ctx, commands.RevokeKey{KID: active.KID, Reason: "compromise"}, meta); err != nil {
		t.Fatal(err)
	}
	if err := f.jwks.Reload(ctx, f.store); err != nil {
		t.Fatal(err)
	}
	if in, _ := f.tok.Introspector.Introspect(ctx, s.AccessToken, "", queries.Caller{ClientID: "login"}); in.Active {
		t.Fatalf("a token signed by revoked key %s introspects active", active.KID)
	}
}

func TestAnInstanceReloadsSealingKeysItHasNotSeen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := newTokenFixture(t, nil)
	newer, err := refreshtoken.NewCodec("r2", map[string][]byte{"r1": a.codecKey, "r2": make32(7)})
	if err != nil {
		t.Fatal(err)
	}
	b := newTokenFixture(t, a.store, withCodec(newer))
	s := b.start(t, "login", "alice")
	if !strings.HasPrefix(s.RefreshToken, "rt1.r2.") {
		t.Fatalf("b sealed with %q", s.RefreshToken[:7])
	}
	if _, err := a.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "login"}, meta); !isInvalidGrant(err) {
		t.Fatalf("without reloading, a token of an unknown key must be refused: %v", err)
	}
	reloads := 0
	c := newTokenFixture(t, a.store, withCodec(a.codec), withReload(func(context.Context) (*refreshtoken.Codec, error) { reloads++; return newer, nil }))
	if _, err := c.tok.Refresh.Handle(ctx, commands.RefreshGrant{RefreshToken: s.RefreshToken, ClientID: "login"}, meta); err != nil {
		t.Fatalf("after reloading: %v", err)
	}
	if reloads != 1 {
		t.Fatalf("%d reloads", reloads)
	}
}

func make32(b byte) []byte {
	k := make([]byte, refreshtoken.KeyBytes)
	for i := range k {
		k[i] = b
	}
	return k
}
