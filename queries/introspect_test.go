package queries_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/domain/token"
	"github.com/authledger/authledger/queries"
)

// notRefresh is a refresh opener for which no token is a refresh token.
type notRefresh struct{}

func (notRefresh) Open(context.Context, string) (refreshtoken.Claims, error) {
	return refreshtoken.Claims{}, errors.New("not a refresh token")
}

func TestIntrospectionDisclosesAnAccessTokenOnlyToEntitledCallers(t *testing.T) {
	t.Parallel()
	tok := claims(func(c *token.AccessClaims) {
		c.ClientID = "svc-login"
		c.Audience = []string{"api", "svc-billing", issuer}
	})
	v := verifierFunc(func(context.Context, string) (token.AccessClaims, error) { return tok, nil })
	q := queries.NewIntrospector(notRefresh{}, nil, v, revoked(nil), func() time.Time { return t0.Add(time.Minute) })
	cases := []struct {
		name   string
		caller queries.Caller
		active bool
	}{
		{"the token's own client learns about it", queries.Caller{ClientID: "svc-login"}, true},
		{"a client named in aud learns about it", queries.Caller{ClientID: "svc-billing"}, true},
		{"a holder of introspect:any learns about it", queries.Caller{ClientID: "svc-rs", Scopes: []string{"things:read", queries.IntrospectAnyScope}}, true},
		{"an unrelated client learns nothing", queries.Caller{ClientID: "svc-other", Scopes: []string{"things:read"}}, false},
		{"no caller learns nothing", queries.Caller{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in, err := q.Introspect(context.Background(), "raw", "", tc.caller)
			if err != nil {
				t.Fatal(err)
			}
			if in.Active != tc.active {
				t.Fatalf("active = %v, want %v", in.Active, tc.active)
			}
			if !tc.active && !reflect.DeepEqual(in, queries.Introspection{}) {
				t.Fatalf("inactive answer carries %+v, want nothing but active=false", in)
			}
			if tc.active && in.Subject != "alice" {
				t.Fatalf("active answer %+v", in)
			}
		})
	}
}
