package token_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authledger/authledger/domain/token"
)

func TestClassBoundsAreDesignTable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		class    token.ClassName
		lifetime time.Duration
		idle     time.Duration
		audience []string
		typ      string
		storage  token.Storage
	}{
		{"a session lives 12 h at most, 30 min idle, for the web, in the session store", token.Session, 12 * time.Hour, 30 * time.Minute, []string{"web"}, "", token.StorageSessionStore},
		{"an access token is a 10 min at+jwt for api and edge, stateless", token.Access, 10 * time.Minute, 0, []string{"api", "edge"}, "at+jwt", token.StorageStateless},
		{"a refresh token lives 14 days for the token service, in the ledger", token.Refresh, 14 * 24 * time.Hour, 0, []string{"token_service"}, "", token.StorageLedger},
		{"an m2m token is a 30 min at+jwt whose audience is registered per service", token.M2M, 30 * time.Minute, 0, nil, "at+jwt", token.StorageStateless},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := token.Bound(tc.class)
			if c.Name != tc.class || c.Lifetime != tc.lifetime || c.IdleTimeout != tc.idle {
				t.Fatalf("%s: name %q lifetime %s idle %s, want %s %s", tc.class, c.Name, c.Lifetime, c.IdleTimeout, tc.lifetime, tc.idle)
			}
			if !slices.Equal(c.Audience, tc.audience) || (c.Audience == nil) != (tc.audience == nil) {
				t.Fatalf("%s: audience %q, want %q", tc.class, c.Audience, tc.audience)
			}
			if c.JWTType != tc.typ || c.Storage != tc.storage {
				t.Fatalf("%s: typ %q storage %q, want %q %q", tc.class, c.JWTType, c.Storage, tc.typ, tc.storage)
			}
			if c.Form == "" || c.Rotation == "" {
				t.Fatalf("%s: form %q rotation %q", tc.class, c.Form, c.Rotation)
			}
		})
	}
	t.Run("the table lists exactly those classes in the design's order", func(t *testing.T) {
		t.Parallel()
		var names []token.ClassName
		for _, c := range token.Classes() {
			names = append(names, c.Name)
		}
		if want := []token.ClassName{token.Session, token.Access, token.Refresh, token.M2M}; !slices.Equal(names, want) {
			t.Fatalf("classes %v, want %v", names, want)
		}
	})
	t.Run("an unknown class has no bound, so nothing can be issued under it", func(t *testing.T) {
		t.Parallel()
		c := token.Bound("id_token")
		if c.Lifetime != 0 || c.JWTType != "" || c.Name != "" {
			t.Fatalf("unknown class bound %+v", c)
		}
		if c := token.DefaultPolicy().Class("id_token"); c.Lifetime != 0 || c.JWTType != "" {
			t.Fatalf("unknown class under the default policy %+v", c)
		}
	})
}

func TestClassBoundsCannotBeChangedByCallers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		mutate func()
	}{
		{"changing a Bound result", func() {
			c := token.Bound(token.Access)
			c.Lifetime = 24 * time.Hour
			c.Audience[0] = "evil"
		}},
		{"changing a Classes result", func() {
			cs := token.Classes()
			for i := range cs {
				cs[i].Lifetime = 24 * time.Hour
				if len(cs[i].Audience) > 0 {
					cs[i].Audience[0] = "evil"
				}
			}
		}},
		{"changing a policy's class", func() {
			c := token.DefaultPolicy().Class(token.Access)
			c.Audience[0] = "evil"
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name+" leaves the bounds as they were", func(t *testing.T) {
			// Not parallel: it mutates what it is handed.
			tc.mutate()
			c := token.Bound(token.Access)
			if c.Lifetime != 10*time.Minute || !slices.Equal(c.Audience, []string{"api", "edge"}) {
				t.Fatalf("access bound became %s %q", c.Lifetime, c.Audience)
			}
			p := token.DefaultPolicy().Class(token.Access)
			if p.Lifetime != 10*time.Minute || !slices.Equal(p.Audience, []string{"api", "edge"}) {
				t.Fatalf("default policy's access class became %s %q", p.Lifetime, p.Audience)
			}
		})
	}
	t.Run("a policy's class cannot be changed through another call's result", func(t *testing.T) {
		p := token.DefaultPolicy()
		c := p.Class(token.Session)
		c.Audience[0] = "evil"
		if got := p.Class(token.Session).Audience; !slices.Equal(got, []string{"web"}) {
			t.Fatalf("session audience became %q", got)
		}
	})
}

func TestNewPolicy(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		lifetimes map[token.ClassName]time.Duration
		idle      time.Duration
		wantErr   []string // substrings the joined error names; nil: no error
		want      map[token.ClassName]time.Duration
		wantIdle  time.Duration
	}{
		{name: "no overrides keep every bound",
			want:     map[token.ClassName]time.Duration{token.Session: 12 * time.Hour, token.Access: 10 * time.Minute, token.Refresh: 14 * 24 * time.Hour, token.M2M: 30 * time.Minute},
			wantIdle: 30 * time.Minute},
		{name: "shorter lifetimes are accepted and applied",
			lifetimes: map[token.ClassName]time.Duration{token.Session: time.Hour, token.Access: 5 * time.Minute, token.Refresh: 24 * time.Hour, token.M2M: time.Minute},
			idle:      10 * time.Minute,
			want:      map[token.ClassName]time.Duration{token.Session: time.Hour, token.Access: 5 * time.Minute, token.Refresh: 24 * time.Hour, token.M2M: time.Minute},
			wantIdle:  10 * time.Minute},
		{name: "a lifetime equal to its bound is accepted",
			lifetimes: map[token.ClassName]time.Duration{token.Access: 10 * time.Minute},
			idle:      30 * time.Minute,
			want:      map[token.ClassName]time.Duration{token.Access: 10 * time.Minute},
			wantIdle:  30 * time.Minute},
		{name: "a zero override means the class default",
			lifetimes: map[token.ClassName]time.Duration{token.Access: 0},
			want:      map[token.ClassName]time.Duration{token.Access: 10 * time.Minute},
			wantIdle:  30 * time.Minute},
		{name: "an access lifetime longer than its bound is refused",
			lifetimes: map[token.ClassName]time.Duration{token.Access: 11 * time.Minute},
			wantErr:   []string{"access lifetime 11m0s, bound 10m0s"}},
		{name: "a session lifetime longer than its bound is refused",
			lifetimes: map[token.ClassName]time.Duration{token.Session: 13 * time.Hour},
			wantErr:   []string{"session lifetime 13h0m0s"}},
		{name: "a refresh lifetime longer than its bound is refused",
			lifetimes: map[token.ClassName]time.Duration{token.Refresh: 15 * 24 * time.Hour},
			wantErr:   []string{"refresh lifetime"}},
		{name: "an m2m lifetime longer than its bound is refused",
			lifetimes: map[token.ClassName]time.Duration{token.M2M: 31 * time.Minute},
			wantErr:   []string{"m2m lifetime"}},
		{name: "a session idle timeout longer than its bound is refused",
			idle:    31 * time.Minute,
			wantErr: []string{"session idle timeout 31m0s, bound 30m0s"}},
		{name: "a negative lifetime is refused",
			lifetimes: map[token.ClassName]time.Duration{token.Access: -time.Minute},
			wantErr:   []string{"access lifetime -1m0s"}},
		{name: "a negative idle timeout is refused",
			idle:    -time.Minute,
			wantErr: []string{"session idle timeout -1m0s"}},
		{name: "every refused override is reported, not only the first",
			lifetimes: map[token.ClassName]time.Duration{token.Access: time.Hour, token.M2M: time.Hour},
			idle:      time.Hour,
			wantErr:   []string{"access lifetime", "m2m lifetime", "session idle timeout"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := token.NewPolicy(tc.lifetimes, tc.idle)
			if tc.wantErr != nil {
				if !errors.Is(err, token.ErrLifetimeTooLong) {
					t.Fatalf("err = %v, want ErrLifetimeTooLong", err)
				}
				for _, s := range tc.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Fatalf("err %q does not name %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for n, want := range tc.want {
				if got := p.Class(n).Lifetime; got != want {
					t.Fatalf("%s lifetime %s, want %s", n, got, want)
				}
			}
			if got := p.Class(token.Session).IdleTimeout; got != tc.wantIdle {
				t.Fatalf("session idle %s, want %s", got, tc.wantIdle)
			}
			// Overrides change lifetimes only: the class's other data stays.
			if c := p.Class(token.Access); c.JWTType != "at+jwt" || !slices.Equal(c.Audience, []string{"api", "edge"}) {
				t.Fatalf("access class data changed: %+v", c)
			}
		})
	}
}

func TestTheZeroPolicyIsTheBounds(t *testing.T) {
	t.Parallel()
	var zero token.Policy
	for _, b := range token.Classes() {
		c := zero.Class(b.Name)
		if c.Lifetime != b.Lifetime || c.IdleTimeout != b.IdleTimeout || c.JWTType != b.JWTType || !slices.Equal(c.Audience, b.Audience) {
			t.Fatalf("zero policy %s = %+v, bound %+v", b.Name, c, b)
		}
	}
}
