package passkey

import (
	"crypto/subtle"
	"errors"
	"time"
)

var (
	// ErrEnrolmentInvalid: no such link, or its secret does not match.
	// One error for both, so a guess learns nothing about which ids exist.
	ErrEnrolmentInvalid = errors.New("passkey: enrolment link not valid")
	// ErrEnrolmentUsed: the link was already redeemed (single use).
	ErrEnrolmentUsed = errors.New("passkey: enrolment link already used")
	// ErrEnrolmentExpired: the link's 15 minutes are over.
	ErrEnrolmentExpired = errors.New("passkey: enrolment link expired")
)

// EnrolmentLifetime is how long an enrolment link is valid.
const EnrolmentLifetime = 15 * time.Minute

// Enrolment is one enrolment link's ledger state.
type Enrolment struct {
	id       string
	version  uint64
	issued   EnrolmentIssued
	redeemed bool
	pending  []Event
}

// LoadEnrolment folds link id's stream events.
func LoadEnrolment(id string, events []Event) *Enrolment {
	e := &Enrolment{id: id}
	for _, ev := range events {
		e.apply(ev)
		e.version++
	}
	return e
}

// Stream implements the repository's aggregate.
func (e *Enrolment) Stream() string { return EnrolmentStream(e.id) }

// Version is the stream version the link was loaded at.
func (e *Enrolment) Version() uint64 { return e.version }

// Pending are the events decided since the load.
func (e *Enrolment) Pending() []Event { return e.pending }

// Subject is the subject the link enrols ("" before Issue).
func (e *Enrolment) Subject() string { return e.issued.Subject }

// Issue mints the link; now+EnrolmentLifetime is its expiry.
func (e *Enrolment) Issue(subject, secretHash string, now time.Time) error {
	if e.issued.ID != "" || e.version != 0 {
		return ErrInvalid
	}
	if subject == "" || len(secretHash) != 64 || now.IsZero() {
		return ErrInvalid
	}
	ev := EnrolmentIssued{ID: e.id, Subject: subject, SecretHash: secretHash, ExpiresAt: now.Add(EnrolmentLifetime), At: now}
	e.apply(ev)
	e.pending = append(e.pending, ev)
	return nil
}

// Check says whether a link presenting secretHash could be redeemed at
// now, without spending it (the ceremony's first step).
func (e *Enrolment) Check(secretHash string, now time.Time) error {
	if e.issued.ID == "" || subtle.ConstantTimeCompare([]byte(secretHash), []byte(e.issued.SecretHash)) != 1 {
		return ErrEnrolmentInvalid
	}
	if e.redeemed {
		return ErrEnrolmentUsed
	}
	if !now.Before(e.issued.ExpiresAt) {
		return ErrEnrolmentExpired
	}
	return nil
}

// Redeem spends the link for credential. Its append at the loaded version
// is what makes the link single use under concurrent redemptions.
func (e *Enrolment) Redeem(secretHash, credential string, now time.Time) error {
	if err := e.Check(secretHash, now); err != nil {
		return err
	}
	ev := EnrolmentRedeemed{ID: e.id, Subject: e.issued.Subject, Credential: credential, At: now}
	e.apply(ev)
	e.pending = append(e.pending, ev)
	return nil
}

func (e *Enrolment) apply(ev Event) {
	switch ev := ev.(type) {
	case EnrolmentIssued:
		e.issued = ev
	case EnrolmentRedeemed:
		e.redeemed = true
	}
}
