package revocations_test

import (
	"context"
	"encoding/json"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/domain/token"
	"github.com/authledger/authledger/eventstore"
	"github.com/authledger/authledger/readmodels/revocations"
)

var t0 = time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)

type clk struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clk) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clk) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func rec(pos uint64, typ string, v any) eventstore.Record {
	b, _ := json.Marshal(v)
	return eventstore.Record{Position: pos, Type: typ, Data: b}
}

func issuedRec(pos uint64, jti, family string, exp time.Time) eventstore.Record {
	return rec(pos, "token.issued.v1", map[string]any{"jti": jti, "family": family, "exp": exp})
}

func TestSet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fam := refreshtoken.FamilyID{7}
	cases := []struct {
		name       string
		records    []eventstore.Record
		advance    time.Duration
		jti, sid   string
		wantDenied bool
	}{
		{
			name:       "a revoked access token is denied",
			records:    []eventstore.Record{rec(1, token.TypeAccessTokenRevoked, token.AccessTokenRevoked{JTI: "j1", ExpiresAt: t0.Add(10 * time.Minute)})},
			jti:        "j1",
			wantDenied: true,
		},
		{
			name:    "a revoked access token leaves the set when it expires",
			records: []eventstore.Record{rec(1, token.TypeAccessTokenRevoked, token.AccessTokenRevoked{JTI: "j1", ExpiresAt: t0.Add(10 * time.Minute)})},
			advance: 10 * time.Minute,
			jti:     "j1",
		},
		{
			name:       "an ended session denies its tokens by sid",
			records:    []eventstore.Record{rec(1, session.TypeEnded, session.Ended{ID: "s1", AccessUntil: t0.Add(10 * time.Minute)})},
			jti:        "any",
			sid:        "s1",
			wantDenied: true,
		},
		{
			name: "a revoked family denies the access tokens minted from it",
			records: []eventstore.Record{
				issuedRec(1, "j1", fam.String(), t0.Add(10*time.Minute)),
				rec(2, refreshtoken.TypeRevoked, refreshtoken.Revoked{Family: fam, Reason: "reuse", AccessUntil: t0.Add(10 * time.Minute)}),
			},
			jti:        "j1",
			wantDenied: true,
		},
		{
			name: "a token minted from a family after its revocation is denied too",
			records: []eventstore.Record{
				rec(1, refreshtoken.TypeRevoked, refreshtoken.Revoked{Family: fam, Reason: "reuse", AccessUntil: t0.Add(10 * time.Minute)}),
				issuedRec(2, "j2", fam.String(), t0.Add(10*time.Minute)),
			},
			jti:        "j2",
			wantDenied: true,
		},
		{
			name: "another family's token is not denied",
			records: []eventstore.Record{
				issuedRec(1, "j1", refreshtoken.FamilyID{8}.String(), t0.Add(10*time.Minute)),
				rec(2, refreshtoken.TypeRevoked, refreshtoken.Revoked{Family: fam, Reason: "reuse", AccessUntil: t0.Add(10 * time.Minute)}),
			},
			jti: "j1",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &clk{now: t0}
			s := revocations.New(c.Now)
			for _, r := range tc.records {
				if err := s.Apply(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			c.Add(tc.advance)
			if got := s.IsRevoked(tc.jti, tc.sid, ""); got != tc.wantDenied {
				t.Fatalf("IsRevoked = %v, want %v", got, tc.wantDenied)
			}
		})
	}
}

func TestSweepForgetsExpiredEntries(t *testing.T) {
	t.Parallel()
	c := &clk{now: t0}
	s := revocations.New(c.Now)
	_ = s.Apply(context.Background(), rec(1, token.TypeAccessTokenRevoked, token.AccessTokenRevoked{JTI: "j1", ExpiresAt: t0.Add(time.Minute)}))
	_ = s.Apply(context.Background(), rec(2, session.TypeEnded, session.Ended{ID: "s1", AccessUntil: t0.Add(time.Hour)}))
	c.Add(2 * time.Minute)
	s.Sweep()
	if n := s.Len(); n[revocations.KindJTI] != 0 || n[revocations.KindSession] != 1 {
		t.Fatalf("after sweep %v", n)
	}
	p := s.Since(context.Background(), 0, 10, 0)
	if len(p.Entries) != 1 || p.Entries[0].ID != "s1" || p.Cursor != 2 {
		t.Fatalf("feed after sweep %+v", p)
	}
}

func TestFeedPagesByPositionAndLongPolls(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := &clk{now: t0}
	s := revocations.New(c.Now)
	for i := uint64(1); i <= 5; i++ {
		_ = s.Apply(ctx, rec(i, token.TypeAccessTokenRevoked, token.AccessTokenRevoked{JTI: string(rune('a' + i)), ExpiresAt: t0.Add(time.Hour)}))
	}
	p := s.Since(ctx, 0, 2, 0)
	if len(p.Entries) != 2 || p.Cursor != 2 {
		t.Fatalf("first page %+v", p)
	}
	p = s.Since(ctx, p.Cursor, 10, 0)
	if len(p.Entries) != 3 || p.Cursor != 5 {
		t.Fatalf("second page %+v", p)
	}
	got := make(chan revocations.Page, 1)
	go func() { got <- s.Since(ctx, 5, 10, 30*time.Second) }()
	// Apply only once the poll is parked, so the test exercises the wake-up
	// rather than a poll that started after the entry was already there.
	for s.Parked() == 0 {
		select {
		case p := <-got:
			t.Fatalf("the long poll returned before any change: %+v", p)
		default:
			runtime.Gosched()
		}
	}
	_ = s.Apply(ctx, rec(6, session.TypeEnded, session.Ended{ID: "s9", AccessUntil: t0.Add(time.Hour)}))
	select {
	case p := <-got:
		if len(p.Entries) != 1 || p.Entries[0].ID != "s9" || p.Cursor != 6 {
			t.Fatalf("long poll %+v", p)
		}
	case <-time.After(20 * time.Second):
		// Well before the poll's own 30 s deadline, which would answer
		// with the entry too and hide a missed wake-up.
		t.Fatal("the long poll did not wake on a new entry")
	}
	if n := s.Parked(); n != 0 {
		t.Fatalf("%d polls still parked after the answer", n)
	}
}

func TestAReplayFromPositionZeroAfterACatchUpLogsNothingTwice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := revocations.New(func() time.Time { return t0 })
	recs := []eventstore.Record{
		rec(1, token.TypeAccessTokenRevoked, token.AccessTokenRevoked{JTI: "j1", ExpiresAt: t0.Add(time.Hour)}),
		rec(2, session.TypeEnded, session.Ended{ID: "s1", AccessUntil: t0.Add(time.Hour)}),
	}
	// First the start-up catch-up, then the runner's replay from 0.
	for range 2 {
		for _, r := range recs {
			if err := s.Apply(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if p := s.Since(ctx, 0, 10, 0); len(p.Entries) != 2 {
		t.Fatalf("feed after replay has %d entries, want 2: %+v", len(p.Entries), p.Entries)
	}
}

func TestPublishRevocationRevokesOnThisInstanceAtOnce(t *testing.T) {
	t.Parallel()
	s := revocations.New(func() time.Time { return t0 })
	if err := s.PublishRevocation(context.Background(), "jti", "j1", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if !s.IsRevoked("j1", "", "") {
		t.Fatal("a published jti is not revoked")
	}
	if err := s.PublishRevocation(context.Background(), "bogus", "x", t0.Add(time.Minute)); err == nil {
		t.Fatal("an unknown kind was accepted")
	}
}

func TestADisabledClientIsRevokedUntilItsLastTokenExpires(t *testing.T) {
	t.Parallel()
	c := &clk{now: t0}
	s := revocations.New(c.Now)
	ctx := context.Background()
	r := rec(5, client.TypeDisabled, client.Disabled{Reason: "compromised", At: t0, AccessUntil: t0.Add(time.Hour)})
	r.Stream = client.Stream("svc-login")
	if err := s.Apply(ctx, r); err != nil {
		t.Fatal(err)
	}
	if !s.IsClientRevoked("svc-login") || s.IsClientRevoked("svc-other") || s.IsClientRevoked("") {
		t.Fatal("the disabled client is not the one revoked")
	}
	p := s.Since(ctx, 0, 10, 0)
	if len(p.Entries) != 1 || p.Entries[0] != (revocations.Entry{Position: 5, Kind: revocations.KindClient, ID: "svc-login", Until: t0.Add(time.Hour)}) {
		t.Fatalf("feed = %+v", p)
	}
	c.Add(time.Hour)
	if s.IsClientRevoked("svc-login") {
		t.Fatal("still revoked once its last token expired")
	}
	// An event from before access_until existed: At + the token horizon.
	old := rec(6, client.TypeDisabled, map[string]any{"at": t0})
	old.Stream = client.Stream("svc-old")
	if err := s.Apply(ctx, old); err != nil {
		t.Fatal(err)
	}
	if !s.IsClientRevoked("svc-old") {
		t.Fatal("an old Disabled event revokes nothing")
	}
	// A Disabled event off a client stream is a corrupt ledger: refuse it.
	bad := rec(7, client.TypeDisabled, client.Disabled{At: t0})
	bad.Stream = "session-x"
	if err := s.Apply(ctx, bad); err == nil {
		t.Fatal("a Disabled event on a non-client stream was folded")
	}
	// A hint over the bus revokes at once, before the ledger feed.
	if err := s.PublishRevocation(ctx, "client", "svc-hinted", c.Now().Add(time.Minute)); err != nil || !s.IsClientRevoked("svc-hinted") {
		t.Fatalf("client hint: %v", err)
	}
}
