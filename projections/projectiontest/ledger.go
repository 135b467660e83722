package projectiontest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/authledger/authledger/domain/refreshtoken"
	"github.com/authledger/authledger/domain/session"
	"github.com/authledger/authledger/domain/token"
	"github.com/authledger/authledger/eventstore"
)

// A Ledger writes a ledger through the real domain events, a few steps
// at a time.
type Ledger interface {
	// Write appends about n more steps (an append each).
	Write(t testing.TB, n int)
}

// SessionsAndFamilies is a small ledger decided by the session and
// refresh-family aggregates: logins that start a session and its family,
// step-ups, rotations, a reused token that revokes its family, logouts
// that end the session and revoke the family, and token-issued records
// that no SQL projection handles. The same seed writes the same ledger.
func SessionsAndFamilies(store eventstore.Store, seed uint64) Ledger {
	return &generator{store: store, rng: rand.New(rand.NewPCG(seed, 9)), now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
}

// Write implements Ledger.
func (g *generator) Write(t testing.TB, n int) {
	t.Helper()
	for range n {
		g.step(t)
	}
}

type login struct {
	s      *session.Session
	f      *refreshtoken.Family
	claims refreshtoken.Claims
	spent  []refreshtoken.Claims
	ended  bool
}

type generator struct {
	store  eventstore.Store
	rng    *rand.Rand
	now    time.Time
	n      int
	logins []*login
}

func (g *generator) id() [16]byte {
	var b [16]byte
	for i := range b {
		b[i] = byte(g.rng.UintN(256))
	}
	return b
}

// step advances the clock and takes one random decision.
func (g *generator) step(t testing.TB) {
	t.Helper()
	g.now = g.now.Add(time.Duration(1+g.rng.IntN(90)) * time.Second)
	open := g.open()
	switch x := g.rng.IntN(10); {
	case x < 3 || len(open) == 0:
		g.login(t)
	case x < 4:
		g.issued(t)
	case x < 5:
		l := open[g.rng.IntN(len(open))]
		must(t, l.s.ElevateWithToken("aal2", []string{"otp"}, "login", fmt.Sprintf("%x", g.id()), g.now))
		g.commit(t, l)
	case x < 8:
		g.rotate(t, open[g.rng.IntN(len(open))], false)
	case x < 9:
		if l := open[g.rng.IntN(len(open))]; len(l.spent) > 0 {
			g.rotate(t, l, true)
		} else {
			g.rotate(t, l, false)
		}
	default:
		l := open[g.rng.IntN(len(open))]
		if _, err := l.s.End("logout", "subject:"+l.s.Info().Subject, g.now, g.now.Add(5*time.Minute)); err != nil {
			t.Fatal(err)
		}
		l.f.Revoke("session_ended", g.now, g.now.Add(5*time.Minute))
		l.ended = true
		g.commit(t, l)
	}
}

func (g *generator) open() []*login {
	var out []*login
	for _, l := range g.logins {
		if revoked, _ := l.f.Revoked(); !l.ended && !revoked {
			out = append(out, l)
		}
	}
	return out
}

func (g *generator) login(t testing.TB) {
	t.Helper()
	g.n++
	sid := fmt.Sprintf("s%03d", g.n)
	fid := refreshtoken.FamilyID(g.id())
	tok := refreshtoken.TokenID(g.id())
	subject := fmt.Sprintf("user-%d", g.rng.IntN(4))
	l := &login{s: session.Load(sid, nil), f: refreshtoken.Load(fid, nil)}
	must(t, l.s.Start(session.Started{ID: sid, Subject: subject, ClientID: "login", ACR: "aal1", AMR: []string{"pwd"},
		AuthTime: g.now, Family: fid.String(), ExpiresAt: g.now.Add(12 * time.Hour), At: g.now, TokenHash: fmt.Sprintf("%x", g.id())}))
	exp := g.now.Add(24 * time.Hour).Truncate(time.Second)
	must(t, l.f.Start(refreshtoken.Started{Family: fid, ClientID: "app", Subject: subject, SessionID: sid, Scope: []string{"openid"},
		AuthTime: g.now, Token: tok, KeyID: "k1", ExpiresAt: exp, At: g.now, NotAfter: exp}))
	l.claims = refreshtoken.Claims{Family: fid, Generation: 1, Token: tok, ExpiresAt: exp, KeyID: "k1"}
	g.logins = append(g.logins, l)
	g.commit(t, l)
}

// rotate presents the current token, or (reuse) one already spent, which
// revokes the family.
func (g *generator) rotate(t testing.TB, l *login, reuse bool) {
	t.Helper()
	presented := l.claims
	if reuse {
		presented = l.spent[g.rng.IntN(len(l.spent))]
	}
	out, err := l.f.Rotate(refreshtoken.RotateInput{Presented: presented, ClientID: "app", Next: refreshtoken.TokenID(g.id()), KeyID: "k1",
		ExpiresAt: g.now.Add(24 * time.Hour).Truncate(time.Second), Now: g.now, AccessLifetime: 5 * time.Minute})
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	if out.Kind == refreshtoken.OutcomeRotated {
		l.spent = append(l.spent, l.claims)
		l.claims = out.Successor
	}
	g.commit(t, l)
}

// issued records a token issuance, which the SQL projections skip.
func (g *generator) issued(t testing.TB) {
	t.Helper()
	jti := fmt.Sprintf("jti-%d", g.rng.Uint64())
	e := token.IssuedEvent{JTI: jti, Class: "access", Subject: "user-0", ClientID: "app", Audience: []string{"api"}, KeyID: "k1",
		IssuedAt: g.now, ExpiresAt: g.now.Add(5 * time.Minute)}
	g.append(t, eventstore.StreamAppend{Stream: token.Stream(jti), Expected: eventstore.NoStream(), Events: []eventstore.Event{event(t, e)}})
}

// commit appends what l's aggregates decided, both streams in one append,
// each at its expected version.
func (g *generator) commit(t testing.TB, l *login) {
	t.Helper()
	var appends []eventstore.StreamAppend
	if p := l.s.Pending(); len(p) > 0 {
		evs := make([]eventstore.Event, len(p))
		for i, e := range p {
			evs[i] = event(t, e)
		}
		appends = append(appends, eventstore.StreamAppend{Stream: session.Stream(l.s.Info().ID), Expected: expected(l.s.Version()), Events: evs})
	}
	if p := l.f.Pending(); len(p) > 0 {
		evs := make([]eventstore.Event, len(p))
		for i, e := range p {
			evs[i] = event(t, e)
		}
		appends = append(appends, eventstore.StreamAppend{Stream: l.f.ID().Stream(), Expected: expected(l.f.Version()), Events: evs})
	}
	g.append(t, appends...)
	// Load the aggregates again from what was appended, as a command's next
	// load would, so Pending starts empty.
	l.s = reload(t, g.store, session.Stream(l.s.Info().ID), func(evs []eventstore.Record) *session.Session {
		es := make([]session.Event, len(evs))
		for i, r := range evs {
			e, err := session.Decode(r.Type, r.Data)
			must(t, err)
			es[i] = e
		}
		return session.Load(l.s.Info().ID, es)
	})
	fid := l.f.ID()
	l.f = reload(t, g.store, fid.Stream(), func(evs []eventstore.Record) *refreshtoken.Family {
		es := make([]refreshtoken.Event, len(evs))
		for i, r := range evs {
			e, err := refreshtoken.Decode(r.Type, r.Data)
			must(t, err)
			es[i] = e
		}
		return refreshtoken.Load(fid, es)
	})
}

func reload[A any](t testing.TB, store eventstore.Store, stream string, load func([]eventstore.Record) A) A {
	t.Helper()
	recs, err := store.ReadStream(context.Background(), stream)
	must(t, err)
	return load(recs)
}

func expected(v uint64) eventstore.ExpectedVersion {
	if v == 0 {
		return eventstore.NoStream()
	}
	return eventstore.Exact(v)
}

func (g *generator) append(t testing.TB, appends ...eventstore.StreamAppend) {
	t.Helper()
	if len(appends) == 0 {
		return
	}
	if _, err := g.store.Append(context.Background(), appends...); err != nil {
		t.Fatal(err)
	}
}

func event(t testing.TB, e interface{ EventType() string }) eventstore.Event {
	t.Helper()
	b, err := json.Marshal(e)
	must(t, err)
	return eventstore.Event{Type: e.EventType(), Data: b}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
