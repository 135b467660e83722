package queries_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authledger/authledger/domain/token"
	"github.com/authledger/authledger/queries"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

type verifierFunc func(ctx context.Context, raw string) (token.AccessClaims, error)

func (f verifierFunc) VerifySignature(ctx context.Context, raw string) (token.AccessClaims, error) {
	return f(ctx, raw)
}

// revoked is a revocation set holding the listed jtis and sids.
type revoked map[string]bool

func (r revoked) IsRevoked(jti, sid, _ string) bool { return r["jti:"+jti] || r["sid:"+sid] }
func (r revoked) IsClientRevoked(id string) bool    { return r["client:"+id] }

const issuer = "https://auth.example.test"

func claims(mut func(*token.AccessClaims)) token.AccessClaims {
	c := token.AccessClaims{Issuer: issuer, Subject: "alice", Audience: []string{"api", issuer}, ClientID: "app",
		JTI: "j1", SessionID: "s1", IssuedAt: t0, NotBefore: t0, ExpiresAt: t0.Add(10 * time.Minute)}
	if mut != nil {
		mut(&c)
	}
	return c
}

func TestAccessCheckerAppliesWindowAudienceAndRevocation(t *testing.T) {
	badSig := errors.New("bad signature")
	cases := []struct {
		name    string
		claims  token.AccessClaims
		verr    error
		revoked revoked
		now     time.Time
		ok      bool
	}{
		{"a live token for the issuer passes", claims(nil), nil, nil, t0.Add(time.Minute), true},
		{"a bad signature is refused", claims(nil), badSig, nil, t0.Add(time.Minute), false},
		{"expiry is exact", claims(nil), nil, nil, t0.Add(10 * time.Minute), false},
		{"nbf has a 5 s leeway", claims(nil), nil, nil, t0.Add(-4 * time.Second), true},
		{"beyond the leeway nbf refuses", claims(nil), nil, nil, t0.Add(-6 * time.Second), false},
		{"the issuer must be an audience", claims(func(c *token.AccessClaims) { c.Audience = []string{"api"} }), nil, nil, t0.Add(time.Minute), false},
		{"a revoked jti is refused", claims(nil), nil, revoked{"jti:j1": true}, t0.Add(time.Minute), false},
		{"a revoked session is refused", claims(nil), nil, revoked{"sid:s1": true}, t0.Add(time.Minute), false},
		{"a disabled client's token is refused", claims(nil), nil, revoked{"client:app": true}, t0.Add(time.Minute), false},
		{"another client's disablement is no matter", claims(nil), nil, revoked{"client:other": true}, t0.Add(time.Minute), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := verifierFunc(func(context.Context, string) (token.AccessClaims, error) { return tc.claims, tc.verr })
			q := queries.NewAccessChecker(v, tc.revoked, issuer, func() time.Time { return tc.now })
			_, err := q.Check(context.Background(), "raw")
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok = %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, queries.ErrAccessDenied) {
				t.Fatalf("err = %v, want ErrAccessDenied", err)
			}
		})
	}
}
