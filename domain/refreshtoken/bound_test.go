package refreshtoken_test

import (
	"errors"
	"testing"
	"time"

	rt "authledger/domain/refreshtoken"
)

func TestAbsoluteBound(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	cases := []struct {
		name       string
		lifetime   time.Duration
		sessionEnd time.Time
		want       time.Time
	}{
		{name: "a family without a session lives the refresh class lifetime", want: t0.Add(14 * day).Truncate(time.Second)},
		{name: "a shorter configured lifetime is kept", lifetime: 3 * day, want: t0.Add(3 * day).Truncate(time.Second)},
		{name: "a lifetime beyond the class bound is cut to it", lifetime: 30 * day, want: t0.Add(14 * day).Truncate(time.Second)},
		{name: "a session family ends with its session", sessionEnd: t0.Add(12*time.Hour + 500*time.Millisecond), want: t0.Add(12 * time.Hour).Truncate(time.Second)},
		{name: "a session outliving the class bound does not extend the family", sessionEnd: t0.Add(20 * day), want: t0.Add(14 * day).Truncate(time.Second)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := rt.AbsoluteBound(t0, c.lifetime, c.sessionEnd); !got.Equal(c.want) {
				t.Fatalf("bound %s, want %s", got, c.want)
			}
		})
	}
}

func TestFamilyNeverOutlivesItsBound(t *testing.T) {
	t.Parallel()
	bound := t0.Add(12 * time.Hour)
	withBound := started()
	withBound.NotAfter = bound
	legacySession := started() // recorded before not_after existed
	legacySession.ExpiresAt = t0.Add(14 * 24 * time.Hour)
	legacyAlone := legacySession
	legacyAlone.SessionID = ""
	cases := []struct {
		name    string
		start   rt.Started
		given   []rt.Event
		now     time.Time
		wantExp time.Time
		err     error
	}{
		{
			name:  "a rotation asking for fourteen days gets only what is left of the bound",
			start: withBound, given: []rt.Event{rotated(tk1, tk2, 2, t0.Add(11*time.Hour))},
			now: t0.Add(11*time.Hour + 30*time.Minute), wantExp: bound,
		},
		{
			name:  "the current token is expired at the bound even if its own expiry is later",
			start: withBound, given: []rt.Event{rotated(tk1, tk2, 2, t0.Add(11*time.Hour+59*time.Minute))},
			now: bound, err: rt.ErrExpired,
		},
		{
			name:  "a legacy session family ends twelve hours after its start",
			start: legacySession, now: t0.Add(12 * time.Hour), err: rt.ErrExpired,
		},
		{
			name:  "a legacy session family still rotates before twelve hours, cut at them",
			start: legacySession, now: t0.Add(11 * time.Hour), wantExp: t0.Add(12 * time.Hour),
		},
		{
			name:  "a legacy family without a session is bounded by the refresh class lifetime",
			start: legacyAlone, now: t0.Add(13 * 24 * time.Hour), wantExp: t0.Add(14 * 24 * time.Hour),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := rt.Load(fam, append([]rt.Event{c.start}, c.given...))
			cur, _ := f.Current()
			gen := f.Generation()
			out, err := f.Rotate(rt.RotateInput{Presented: present(cur, gen), ClientID: "app", Next: rt.TokenID{9},
				KeyID: "k1", ExpiresAt: c.now.Add(14 * 24 * time.Hour).Truncate(time.Second), Now: c.now})
			if !errors.Is(err, c.err) {
				t.Fatalf("err %v, want %v", err, c.err)
			}
			if c.err != nil {
				if f.Active(present(cur, gen), c.now) {
					t.Fatal("a token past the family's bound introspects as active")
				}
				return
			}
			if !out.Successor.ExpiresAt.Equal(c.wantExp) {
				t.Fatalf("successor expires %s, want %s", out.Successor.ExpiresAt, c.wantExp)
			}
			if r, ok := f.Pending()[0].(rt.Rotated); !ok || !r.ExpiresAt.Equal(c.wantExp) {
				t.Fatalf("recorded %+v, want expiry %s", f.Pending()[0], c.wantExp)
			}
		})
	}
}

func TestStartRefusesABoundBeyondTheClass(t *testing.T) {
	t.Parallel()
	tooLong := started()
	tooLong.NotAfter = t0.Add(15 * 24 * time.Hour)
	firstOutlives := started()
	firstOutlives.NotAfter = t0.Add(30 * time.Minute)
	for name, s := range map[string]rt.Started{
		"a bound beyond the refresh class lifetime": tooLong,
		"a first token expiring after the bound":    firstOutlives,
	} {
		if err := rt.Load(fam, nil).Start(s); err == nil {
			t.Errorf("%s was accepted", name)
		}
	}
}
