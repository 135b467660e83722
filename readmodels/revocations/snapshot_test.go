package revocations_test

import (
	"context"
	"testing"
	"time"

	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/domain/token"
	"github.com/authledger/authledger/readmodels/revocations"
)

// A set restored from its snapshot answers what the original answered,
// keeps only what has not expired, and resumes after the snapshot's
// position without logging anything twice.
func TestASnapshotRestoresTheUnexpiredRevocations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fam := refreshtoken.FamilyID{9}
	c := &clk{now: t0}
	s := revocations.New(c.Now)
	for _, r := range []struct {
		pos uint64
		typ string
		v   any
	}{
		{1, token.TypeAccessTokenRevoked, token.AccessTokenRevoked{JTI: "short", ExpiresAt: t0.Add(time.Minute)}},
		{2, token.TypeAccessTokenRevoked, token.AccessTokenRevoked{JTI: "long", ExpiresAt: t0.Add(time.Hour)}},
		{3, session.TypeEnded, session.Ended{ID: "s1", AccessUntil: t0.Add(time.Hour)}},
	} {
		if err := s.Apply(ctx, rec(r.pos, r.typ, r.v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Apply(ctx, issuedRec(4, "fam-token", fam.String(), t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	pos, data, err := s.Snapshot()
	if err != nil || pos != 4 {
		t.Fatalf("Snapshot = %d, %v", pos, err)
	}

	c.Add(2 * time.Minute) // "short" has expired by the restart
	r := revocations.New(c.Now)
	if err := r.Restore(pos, data); err != nil {
		t.Fatal(err)
	}
	if r.ResumeAt() != 4 {
		t.Fatalf("ResumeAt = %d, want 4", r.ResumeAt())
	}
	for _, tc := range []struct {
		name          string
		jti, sid, fam string
		want          bool
	}{
		{"a live revoked token stays revoked", "long", "", "", true},
		{"an ended session stays ended", "", "s1", "", true},
		{"an expired entry is gone", "short", "", "", false},
	} {
		if got := r.IsRevoked(tc.jti, tc.sid, tc.fam); got != tc.want {
			t.Errorf("%s: IsRevoked = %v", tc.name, got)
		}
	}
	if n := r.Len()[revocations.KindJTI]; n != 1 {
		t.Errorf("%d jti entries restored, want 1 (the expired one dropped)", n)
	}
	// The family's tracked token is revoked with its family after the restore.
	if err := r.Apply(ctx, rec(5, refreshtoken.TypeRevoked, refreshtoken.Revoked{Family: fam, Reason: "revoked", AccessUntil: t0.Add(time.Hour)})); err != nil {
		t.Fatal(err)
	}
	if !r.IsRevoked("fam-token", "", "") {
		t.Error("a token tracked before the snapshot was not revoked with its family")
	}
	// A record the snapshot covers is not applied again.
	if err := r.Apply(ctx, rec(2, token.TypeAccessTokenRevoked, token.AccessTokenRevoked{JTI: "again", ExpiresAt: t0.Add(time.Hour)})); err != nil {
		t.Fatal(err)
	}
	if r.IsRevoked("again", "", "") {
		t.Error("a record at or below the snapshot's position was applied")
	}
}
