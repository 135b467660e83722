package session

import (
	"crypto/subtle"
	"errors"
	"time"

	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/domain/event"
)

var (
	// ErrNotFound: no such session, or it is not the caller's.
	ErrNotFound = errors.New("session: not found")
	// ErrEnded: the session was ended.
	ErrEnded = errors.New("session: ended")
	// ErrExpired: the idle or absolute timeout passed.
	ErrExpired = errors.New("session: expired")
	// ErrInvalid: a start or step-up request without what it needs.
	ErrInvalid = errors.New("session: invalid request")
	// ErrReservedSubject: the subject lies in the client-id namespace
	// (client.InIDNamespace), where no user may be named.
	ErrReservedSubject = errors.New("session: subject is in the client-id namespace (the svc- prefix is reserved for service clients)")
	// ErrAlreadyStarted: Start on a stream that has events.
	ErrAlreadyStarted = errors.New("session: already started")
)

// Session is one session's ledger state.
type Session struct {
	id      string
	version uint64
	start   Started
	acr     string
	amr     []string
	authAt  time.Time
	ended   bool
	// tokenHash is the current token's hash, when the ledger recorded it.
	tokenHash string
	pending   []Event
}

// Load folds session id's stream events (in version order); with no events
// it is a session not started yet.
func Load(id string, events []Event) *Session {
	s := &Session{id: id}
	for _, e := range events {
		s.apply(e)
		s.version++
	}
	return s
}

// Stream is the session's ledger stream.
func (s *Session) Stream() string { return Stream(s.id) }

// Version is the stream version the session was loaded at.
func (s *Session) Version() uint64 { return s.version }

// Exists reports whether the session was started.
func (s *Session) Exists() bool { return s.start.ID != "" }

// Info is the start record with the current acr, amr and auth time.
func (s *Session) Info() Started {
	i := s.start
	i.ACR, i.AMR, i.AuthTime = s.acr, s.amr, s.authAt
	return i
}

// Ended reports whether the session was ended.
func (s *Session) Ended() bool { return s.ended }

// Pending returns the events decided since loading.
func (s *Session) Pending() []Event { return s.pending }

func (s *Session) record(e Event) { s.apply(e); s.pending = append(s.pending, e) }

func (s *Session) apply(e Event) {
	switch e := e.(type) {
	case Started:
		s.start, s.acr, s.amr, s.authAt, s.tokenHash = e, e.ACR, e.AMR, e.AuthTime, e.TokenHash
	case Elevated:
		s.acr, s.amr, s.authAt = e.ACR, e.AMR, e.AuthTime
		// A step-up rotates the token: a hash recorded before it no longer
		// names the session, whether or not this event recorded the new one.
		s.tokenHash = e.TokenHash
	case Ended:
		s.ended = true
	}
}

// Start opens the session.
func (s *Session) Start(e Started) error {
	if s.Exists() || s.version > 0 {
		return ErrAlreadyStarted
	}
	if e.ID == "" || e.Subject == "" || e.ClientID == "" || len(e.Subject) > 255 || len(e.ACR) > 255 || len(e.AMR) > 16 {
		return ErrInvalid
	}
	if client.InIDNamespace(e.Subject) {
		return ErrReservedSubject
	}
	s.record(e)
	return nil
}

// Elevate records a step-up at now. The session must be live; absolute
// expiry is checked here, idle expiry by the session store's record.
func (s *Session) Elevate(acr string, amr []string, clientID string, now time.Time) error {
	return s.ElevateWithToken(acr, amr, clientID, "", now)
}

// ElevateWithToken is Elevate recording the rotated token's hash, so the
// session can be rebuilt from the ledger under its new token.
func (s *Session) ElevateWithToken(acr string, amr []string, clientID, tokenHash string, now time.Time) error {
	if err := s.live(now); err != nil {
		return err
	}
	if acr == "" || len(acr) > 255 || len(amr) > 16 {
		return ErrInvalid
	}
	s.record(Elevated{ID: s.start.ID, ACR: acr, AMR: amr, AuthTime: now.UTC(), ClientID: clientID, At: now.UTC(), TokenHash: tokenHash})
	return nil
}

// Rebuild is the live record of the session the ledger holds under
// tokenHash, for a session store that lost it (Redis restarted without
// persistence): the session must be live at now and its current token must
// be the one presented. lastSeen is the last use the ledger knows of; the
// caller applies the idle timeout to it as to any record.
func (s *Session) Rebuild(tokenHash string, lastSeen, now time.Time) (Record, error) {
	if err := s.live(now); err != nil {
		return Record{}, err
	}
	if s.tokenHash == "" || subtle.ConstantTimeCompare([]byte(s.tokenHash), []byte(tokenHash)) != 1 {
		return Record{}, ErrNotFound
	}
	i := s.Info()
	return Record{ID: i.ID, Subject: i.Subject, ClientID: i.ClientID, ACR: i.ACR, AMR: i.AMR, AuthTime: i.AuthTime,
		Family: i.Family, CreatedAt: i.At, LastSeen: lastSeen, TokenHash: s.tokenHash}, nil
}

// End closes the session; ending an ended session records nothing and
// reports false, so DELETE is idempotent.
func (s *Session) End(reason, actor string, now, accessUntil time.Time) (bool, error) {
	if !s.Exists() {
		return false, ErrNotFound
	}
	if s.ended {
		return false, nil
	}
	s.record(Ended{ID: s.start.ID, Subject: s.start.Subject, Reason: reason, Actor: actor, At: now.UTC(), AccessUntil: accessUntil.UTC()})
	return true, nil
}

func (s *Session) live(now time.Time) error {
	switch {
	case !s.Exists():
		return ErrNotFound
	case s.ended:
		return ErrEnded
	case !now.Before(s.start.ExpiresAt):
		return ErrExpired
	}
	return nil
}

// CheckExpiry applies the two timeouts of DESIGN.md §4 to a session created
// at created and last used at lastSeen.
func CheckExpiry(created, lastSeen, now time.Time, idle, absolute time.Duration) error {
	if !now.Before(created.Add(absolute)) || !now.Before(lastSeen.Add(idle)) {
		return ErrExpired
	}
	return nil
}

var codec = event.NewCodec[Event]("session", event.Lenient(),
	event.Register[Started](),
	event.Register[Elevated](),
	event.Register[Ended](),
)

// Decode turns a stored event into its newest shape. The codec is
// lenient: an unknown type yields (nil, nil), so a stream may carry events
// this version does not know and readers skip them.
func Decode(typ string, data []byte) (Event, error) { return codec.Decode(typ, data) }
