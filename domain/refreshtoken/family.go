package refreshtoken

import (
	"crypto/subtle"
	"slices"
	"time"
)

// MaxGrace bounds the retry grace period: long enough for a client retrying
// over a flaky network, short enough that a thief cannot ride on it.
const MaxGrace = 30 * time.Second

// DefaultGrace is the retry window a deployment gets unless it configures
// another (AUTHLEDGER_REFRESH_GRACE). A retry of the token spent last, by
// the family's own client, within this window gets the same successor
// instead of counting as reuse (RFC 9700 §4.14.2): a client that gave up
// on a slow commit, or parallel requests of one app, must not log the user
// out. 0 switches it off.
const DefaultGrace = 10 * time.Second

// Presented is what an opened token claims about itself.
type Presented = Claims

// OutcomeKind says what presenting a token led to.
type OutcomeKind int

const (
	// OutcomeRotated: the token was current; a successor was recorded.
	OutcomeRotated OutcomeKind = iota + 1
	// OutcomeGraceReplay: the token was spent moments ago by the same
	// client; the same successor is handed out again and nothing is
	// recorded, so the family never forks.
	OutcomeGraceReplay
	// OutcomeReuse: a spent token came back; reuse was recorded and the
	// family revoked. The caller must append and then refuse the request.
	OutcomeReuse
)

// Outcome is the decision of Rotate. Successor is set for OutcomeRotated and
// OutcomeGraceReplay.
type Outcome struct {
	Kind      OutcomeKind
	Successor Claims
}

// Family is one login's refresh-token lineage, rebuilt from its stream.
type Family struct {
	id      FamilyID
	version uint64
	start   Started
	started bool

	current    TokenID
	generation uint64
	expiresAt  time.Time
	last       *Rotated
	// Spent tokens live in two maps so a clone (one per refresh on the
	// cached path) copies only the recent delta: spentBase is shared and
	// never written after it is built; spent holds what came since.
	spentBase map[TokenID]uint64
	spent     map[TokenID]uint64

	revoked bool
	reason  string

	pending []Event
}

// Load folds a family stream's events (in version order) into the family;
// with no events it is a new family (version 0) ready to Start.
func Load(id FamilyID, events []Event) *Family {
	f := &Family{id: id, spent: map[TokenID]uint64{}}
	for _, e := range events {
		f.apply(e)
		f.version++
	}
	return f
}

// ID is the family id.
func (f *Family) ID() FamilyID { return f.id }

// Stream is the family's ledger stream.
func (f *Family) Stream() string { return f.id.Stream() }

// Version is the stream version the family was loaded at (pending events
// not counted), the expected version of the next append.
func (f *Family) Version() uint64 { return f.version }

// Exists reports whether the family was started.
func (f *Family) Exists() bool { return f.started }

// Info is the family's start record (client, subject, session, scope…).
func (f *Family) Info() Started { return f.start }

// Revoked reports whether the family is revoked, and why.
func (f *Family) Revoked() (bool, string) { return f.revoked, f.reason }

// Generation is the current token's generation.
func (f *Family) Generation() uint64 { return f.generation }

// Current is the one token that may be presented now, and when it expires
// (never after NotAfter).
func (f *Family) Current() (TokenID, time.Time) {
	if b := f.NotAfter(); f.started && b.Before(f.expiresAt) {
		return f.current, b
	}
	return f.current, f.expiresAt
}

// Pending returns the events decided since loading.
func (f *Family) Pending() []Event { return f.pending }

func (f *Family) record(e Event) {
	f.apply(e)
	f.pending = append(f.pending, e)
}

func (f *Family) apply(e Event) {
	switch e := e.(type) {
	case Started:
		f.start, f.started = e, true
		f.current, f.generation, f.expiresAt = e.Token, 1, e.ExpiresAt
	case *Started:
		f.apply(*e)
	case Elevated:
		f.start.ACR, f.start.AMR, f.start.AuthTime = e.ACR, slices.Clone(e.AMR), e.AuthTime
	case Rotated:
		f.spent[e.From] = f.generation
		f.current, f.generation, f.expiresAt = e.To, e.Generation, e.ExpiresAt
		r := e
		f.last = &r
	case *Rotated:
		f.apply(*e)
	case Revoked:
		f.revoked, f.reason = true, e.Reason
	case *Revoked:
		f.apply(*e)
	}
}

// Start opens the family with its first token. s must carry the family's
// bound (NotAfter, see AbsoluteBound).
func (f *Family) Start(s Started) error {
	if f.started || f.version > 0 {
		return ErrAlreadyStarted
	}
	if s.Family != f.id || s.Token.IsZero() || s.ClientID == "" || s.Subject == "" {
		return ErrIncompleteStart
	}
	if s.NotAfter.IsZero() {
		return ErrNoBound
	}
	if s.NotAfter.After(AbsoluteBound(s.At, 0, time.Time{})) {
		return ErrBoundTooLong
	}
	if s.ExpiresAt.After(s.NotAfter) {
		return ErrFirstOutlivesBound
	}
	f.record(s)
	return nil
}

// RotateInput is one presentation. Next is the id the successor gets if one
// is minted, sealed with KeyID and expiring at ExpiresAt (whole seconds, as
// the token carries them), cut at the family's NotAfter. Grace is the retry window (0 disables it);
// AccessLifetime bounds the access tokens minted from the family, so a
// revocation says when sets may forget it. JKT is the thumbprint of the
// DPoP key that signed the request's proof ("" for none).
type RotateInput struct {
	Presented      Presented
	ClientID       string
	JKT            string
	Next           TokenID
	KeyID          string
	ExpiresAt      time.Time
	Now            time.Time
	Grace          time.Duration
	AccessLifetime time.Duration
}

// Rotate decides what presenting a token means.
func (f *Family) Rotate(in RotateInput) (Outcome, error) {
	p, clientID, next, keyID, expiresAt, now, grace := in.Presented, in.ClientID, in.Next, in.KeyID, in.ExpiresAt, in.Now, in.Grace
	if !f.started {
		return Outcome{}, ErrUnknownFamily
	}
	if grace < 0 || grace > MaxGrace {
		return Outcome{}, ErrBadGrace
	}
	if clientID != f.start.ClientID {
		return Outcome{}, ErrWrongClient
	}
	if f.revoked {
		return Outcome{}, ErrFamilyRevoked
	}
	// Before any token state: a thief holding a stolen token but not the
	// key can neither rotate the family nor trigger reuse revocation.
	if f.start.JKT != "" && subtle.ConstantTimeCompare([]byte(in.JKT), []byte(f.start.JKT)) != 1 {
		return Outcome{}, ErrKeyMismatch
	}
	if p.Token == f.current && p.Generation == f.generation {
		bound := f.NotAfter()
		if !now.Before(f.expiresAt) || !now.Before(bound) {
			return Outcome{}, ErrExpired
		}
		if expiresAt.After(bound) {
			expiresAt = bound
		}
		if next.IsZero() || next == f.current {
			return Outcome{}, ErrSuccessorNotNew
		}
		if _, used := f.spentGeneration(next); used {
			return Outcome{}, ErrSuccessorNotNew
		}
		r := Rotated{Family: f.id, From: p.Token, To: next, Generation: f.generation + 1, KeyID: keyID, ExpiresAt: expiresAt.UTC(), At: now.UTC()}
		f.record(r)
		return Outcome{Kind: OutcomeRotated, Successor: Claims{Family: f.id, Generation: r.Generation, Token: next, ExpiresAt: r.ExpiresAt, KeyID: keyID}}, nil
	}
	gen, spent := f.spentGeneration(p.Token)
	if !spent || gen != p.Generation {
		return Outcome{}, ErrUnknownToken
	}
	// A retry of the token spent last, within the grace period, gets that
	// same successor back — as long as the successor itself is unused.
	if grace > 0 && f.last != nil && f.last.From == p.Token && f.last.To == f.current && now.Sub(f.last.At) <= grace {
		l := f.last
		return Outcome{Kind: OutcomeGraceReplay, Successor: Claims{Family: f.id, Generation: l.Generation, Token: l.To, ExpiresAt: l.ExpiresAt, KeyID: l.KeyID}}, nil
	}
	f.record(ReuseDetected{Family: f.id, Presented: p.Token, Generation: gen, ClientID: clientID, At: now.UTC()})
	f.record(Revoked{Family: f.id, Reason: "reuse", SessionID: f.start.SessionID, At: now.UTC(), AccessUntil: now.UTC().Add(in.AccessLifetime)})
	return Outcome{Kind: OutcomeReuse}, nil
}

// Revoke ends the family for reason. It reports false (and records nothing)
// when the family is unknown or already revoked, so revocation is idempotent.
// accessUntil is when the last access token minted from it expires.
func (f *Family) Revoke(reason string, now, accessUntil time.Time) bool {
	if !f.started || f.revoked {
		return false
	}
	f.record(Revoked{Family: f.id, Reason: reason, SessionID: f.start.SessionID, At: now.UTC(), AccessUntil: accessUntil.UTC()})
	return true
}

// Active reports whether the token p is the family's current, unexpired
// token at now (RFC 7662 "active").
func (f *Family) Active(p Presented, now time.Time) bool {
	return f.started && !f.revoked && p.Token == f.current && p.Generation == f.generation &&
		now.Before(f.expiresAt) && now.Before(f.NotAfter())
}

func (f *Family) spentGeneration(t TokenID) (uint64, bool) {
	if g, ok := f.spent[t]; ok {
		return g, true
	}
	g, ok := f.spentBase[t]
	return g, ok
}

// spentDeltaMax bounds the delta a clone copies before it is folded into a
// new shared base.
const spentDeltaMax = 32

// Clone returns an independent copy, pending events included, so a cached
// family can be decided on without touching the cached value.
func (f *Family) Clone() *Family {
	c := *f
	if len(f.spent) > spentDeltaMax {
		base := make(map[TokenID]uint64, len(f.spentBase)+len(f.spent))
		for k, v := range f.spentBase {
			base[k] = v
		}
		for k, v := range f.spent {
			base[k] = v
		}
		c.spentBase, c.spent = base, map[TokenID]uint64{}
	} else {
		c.spent = make(map[TokenID]uint64, len(f.spent)+1)
		for k, v := range f.spent {
			c.spent[k] = v
		}
	}
	if f.last != nil {
		l := *f.last
		c.last = &l
	}
	c.pending = append([]Event(nil), f.pending...)
	return &c
}

// Committed returns a copy as the stream stands once Pending has been
// appended: the version moves past the pending events, which are cleared.
func (f *Family) Committed() *Family {
	c := f.Clone()
	c.version += uint64(len(c.pending))
	c.pending = nil
	return c
}
