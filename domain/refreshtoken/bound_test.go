package refreshtoken_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	rt "github.com/authledger/authledger/domain/refreshtoken"
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
	// Families recorded before not_after existed reach the aggregate as the
	// codec's upcaster shapes them.
	legacy := started()
	legacy.ExpiresAt = t0.Add(14 * 24 * time.Hour)
	legacySession := decodeLegacyStart(t, legacy)
	legacy.SessionID = ""
	legacyAlone := decodeLegacyStart(t, legacy)
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

// decodeLegacyStart stores s as it was recorded before not_after existed
// (no such member) and decodes it.
func decodeLegacyStart(t *testing.T, s rt.Started) rt.Started {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "not_after")
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	e, err := rt.Decode(rt.TypeStarted, b)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := e.(rt.Started)
	if !ok {
		t.Fatalf("decoded %T, want rt.Started", e)
	}
	return got
}

func TestALegacyStartDecodesToTheNewestShape(t *testing.T) {
	t.Parallel()
	alone := started()
	alone.SessionID = ""
	cases := []struct {
		name string
		data string
		want time.Time
	}{
		{
			name: "a session family recorded without a bound ends twelve hours after its start",
			data: `{"family":"01000000000000000000000000000000","client_id":"app","subject":"alice","session_id":"s1","token":"01000000000000000000000000000000","key_id":"k1","expires_at":"2026-01-16T03:04:05Z","at":"2026-01-02T03:04:05Z","auth_time":"0001-01-01T00:00:00Z"}`,
			want: t0.Add(12 * time.Hour),
		},
		{
			name: "a family without a session recorded without a bound lives the refresh class lifetime",
			data: `{"family":"01000000000000000000000000000000","client_id":"app","subject":"alice","token":"01000000000000000000000000000000","key_id":"k1","expires_at":"2026-01-16T03:04:05Z","at":"2026-01-02T03:04:05Z","auth_time":"0001-01-01T00:00:00Z"}`,
			want: t0.Add(14 * 24 * time.Hour),
		},
		{
			name: "a zero bound is upcast like a missing one",
			data: `{"family":"01000000000000000000000000000000","client_id":"app","subject":"alice","token":"01000000000000000000000000000000","key_id":"k1","expires_at":"2026-01-16T03:04:05Z","at":"2026-01-02T03:04:05Z","auth_time":"0001-01-01T00:00:00Z","not_after":"0001-01-01T00:00:00Z"}`,
			want: t0.Add(14 * 24 * time.Hour),
		},
		{
			name: "a recorded bound is kept",
			data: `{"family":"01000000000000000000000000000000","client_id":"app","subject":"alice","session_id":"s1","token":"01000000000000000000000000000000","key_id":"k1","expires_at":"2026-01-02T04:04:05Z","at":"2026-01-02T03:04:05Z","auth_time":"0001-01-01T00:00:00Z","not_after":"2026-01-02T05:04:05Z"}`,
			want: t0.Add(2 * time.Hour),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e, err := rt.Decode(rt.TypeStarted, []byte(c.data))
			if err != nil {
				t.Fatal(err)
			}
			s, ok := e.(rt.Started)
			if !ok {
				t.Fatalf("decoded %T, want rt.Started", e)
			}
			if !s.NotAfter.Equal(c.want) {
				t.Fatalf("bound %s, want %s", s.NotAfter, c.want)
			}
			if s.Family != fam || s.Token != tk1 || s.ClientID != "app" || !s.At.Equal(t0) {
				t.Fatalf("the upcast changed more than the bound: %+v", s)
			}
			if got := rt.Load(fam, []rt.Event{s}).NotAfter(); !got.Equal(c.want) {
				t.Fatalf("the family's bound is %s, want %s", got, c.want)
			}
		})
	}
}

func TestStartRefusesWhatItCannotRecord(t *testing.T) {
	t.Parallel()
	tooLong := started()
	tooLong.NotAfter = t0.Add(15 * 24 * time.Hour)
	firstOutlives := started()
	firstOutlives.NotAfter = t0.Add(30 * time.Minute)
	noBound := started()
	noBound.NotAfter = time.Time{}
	noSubject := started()
	noSubject.Subject = ""
	noClient := started()
	noClient.ClientID = ""
	noToken := started()
	noToken.Token = rt.TokenID{}
	otherFamily := started()
	otherFamily.Family = rt.FamilyID{2}
	cases := []struct {
		name  string
		given []rt.Event
		start rt.Started
		err   error
	}{
		{name: "a complete start with its bound is recorded", start: started()},
		{name: "a bound beyond the refresh class lifetime", start: tooLong, err: rt.ErrBoundTooLong},
		{name: "a first token expiring after the bound", start: firstOutlives, err: rt.ErrFirstOutlivesBound},
		{name: "a start without a bound", start: noBound, err: rt.ErrNoBound},
		{name: "a start without a subject", start: noSubject, err: rt.ErrIncompleteStart},
		{name: "a start without a client", start: noClient, err: rt.ErrIncompleteStart},
		{name: "a start without a token", start: noToken, err: rt.ErrIncompleteStart},
		{name: "a start of another family", start: otherFamily, err: rt.ErrIncompleteStart},
		{name: "a second start", given: []rt.Event{started()}, start: started(), err: rt.ErrAlreadyStarted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := rt.Load(fam, c.given)
			err := f.Start(c.start)
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if c.err != nil {
				if len(f.Pending()) != 0 {
					t.Fatalf("a refused start recorded %v", f.Pending())
				}
				return
			}
			if len(f.Pending()) != 1 || !f.Exists() {
				t.Fatalf("pending %v, exists %v", f.Pending(), f.Exists())
			}
		})
	}
}
