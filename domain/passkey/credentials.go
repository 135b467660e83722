package passkey

import (
	"errors"
	"slices"
	"time"

	"github.com/authledger/authledger/domain/event"
)

var (
	// ErrUnknownCredential: the subject holds no such credential (never
	// registered, or removed).
	ErrUnknownCredential = errors.New("passkey: unknown credential")
	// ErrDuplicate: the credential id is already registered.
	ErrDuplicate = errors.New("passkey: credential already registered")
	// ErrCloneSuspected: the sign counter did not go up; the sign-in is
	// refused and a clone warning recorded.
	ErrCloneSuspected = errors.New("passkey: sign counter went backwards (possible cloned authenticator)")
	// ErrInvalid: a decision without what it needs (empty id, key or name).
	ErrInvalid = errors.New("passkey: invalid request")
	// ErrTooMany: the subject already holds MaxCredentials passkeys.
	ErrTooMany = errors.New("passkey: too many passkeys for one subject")
)

// MaxCredentials bounds one subject's passkeys, so one stream stays small.
const MaxCredentials = 20

// MaxNameLength bounds a passkey's display name (in bytes).
const MaxNameLength = 64

// Credential is one registered passkey as the ledger knows it.
type Credential struct {
	ID              string
	PublicKey       []byte
	SignCount       uint32
	AAGUID          string
	Name            string
	Transports      []string
	AttestationType string
	BackupEligible  bool
	BackupState     bool
	RegisteredAt    time.Time
	LastUsed        time.Time
}

// Credentials is one subject's passkeys: the aggregate every registration,
// sign-in, rename and removal decides on, so a counter and a removal are
// checked against the ledger, never a read model.
type Credentials struct {
	subject  string
	version  uint64
	creds    []Credential
	activity []Activity
	pending  []Event
}

// Activity is one recorded step of the subject's passkeys, for the account
// page: what happened, to which credential, when.
type Activity struct {
	Type       string // the event type
	Credential string
	Detail     string // a failure's reason, a purpose, a new name
	At         time.Time
}

// MaxActivity bounds how many recent steps the aggregate keeps.
const MaxActivity = 20

// Load folds subject's stream events in version order.
func Load(subject string, events []Event) *Credentials {
	c := &Credentials{subject: subject}
	for _, e := range events {
		c.apply(e)
		c.version++
	}
	return c
}

// Stream implements the repository's aggregate.
func (c *Credentials) Stream() string { return Stream(c.subject) }

// Version is the stream version the aggregate was loaded at.
func (c *Credentials) Version() uint64 { return c.version }

// Pending are the events decided since the load.
func (c *Credentials) Pending() []Event { return c.pending }

// Subject is whose passkeys these are.
func (c *Credentials) Subject() string { return c.subject }

// List is every live credential, in registration order.
func (c *Credentials) List() []Credential {
	out := make([]Credential, len(c.creds))
	for i, cr := range c.creds {
		out[i] = cr
		out[i].PublicKey = slices.Clone(cr.PublicKey)
		out[i].Transports = slices.Clone(cr.Transports)
	}
	return out
}

// Activity is the most recent steps, newest first.
func (c *Credentials) Activity() []Activity {
	out := slices.Clone(c.activity)
	slices.Reverse(out)
	return out
}

// Get returns one live credential.
func (c *Credentials) Get(id string) (Credential, bool) {
	i := c.index(id)
	if i < 0 {
		return Credential{}, false
	}
	return c.List()[i], true
}

func (c *Credentials) index(id string) int {
	return slices.IndexFunc(c.creds, func(cr Credential) bool { return cr.ID == id })
}

func (c *Credentials) record(e Event) {
	c.apply(e)
	c.pending = append(c.pending, e)
}

// Register adds a credential. The proof that the caller may add one (an
// enrolment link, a recent session) is the caller's to check first.
func (c *Credentials) Register(e Registered) error {
	e.Subject = c.subject
	switch {
	case e.Credential == "" || len(e.PublicKey) == 0 || e.Via == "" || e.At.IsZero():
		return ErrInvalid
	case len(e.Name) == 0 || len(e.Name) > MaxNameLength:
		return ErrInvalid
	case c.index(e.Credential) >= 0:
		return ErrDuplicate
	case len(c.creds) >= MaxCredentials:
		return ErrTooMany
	}
	c.record(e)
	return nil
}

// SignIn accepts an assertion whose signature the ceremony verified, with
// the counter it presented. A counter that does not go up (unless both it
// and the stored one are 0: authenticators that keep no counter, WebAuthn
// §6.1.1) records a clone warning and the failure and returns
// ErrCloneSuspected; the caller still appends them. Success records Used
// and SignInSucceeded.
func (c *Credentials) SignIn(credential string, count uint32, purpose, acr string, amr []string, now time.Time) error {
	i := c.index(credential)
	if i < 0 {
		c.record(SignInFailed{Subject: c.subject, Credential: credential, Reason: ReasonUnknownCredential, At: now})
		return ErrUnknownCredential
	}
	stored := c.creds[i].SignCount
	if (count != 0 || stored != 0) && count <= stored {
		c.record(CloneWarning{Subject: c.subject, Credential: credential, Stored: stored, Presented: count, At: now})
		c.record(SignInFailed{Subject: c.subject, Credential: credential, Reason: ReasonCounterRegression, At: now})
		return ErrCloneSuspected
	}
	c.record(Used{Subject: c.subject, Credential: credential, SignCount: count, At: now})
	c.record(SignInSucceeded{Subject: c.subject, Credential: credential, Purpose: purpose, ACR: acr, AMR: slices.Clone(amr), At: now})
	return nil
}

// Fail records a refused sign-in of this subject for reason.
func (c *Credentials) Fail(credential, reason string, now time.Time) {
	c.record(SignInFailed{Subject: c.subject, Credential: credential, Reason: reason, At: now})
}

// Rename changes a live credential's display name.
func (c *Credentials) Rename(credential, name string, now time.Time) error {
	if name == "" || len(name) > MaxNameLength {
		return ErrInvalid
	}
	if c.index(credential) < 0 {
		return ErrUnknownCredential
	}
	c.record(Renamed{Subject: c.subject, Credential: credential, Name: name, At: now})
	return nil
}

// Remove deletes a live credential.
func (c *Credentials) Remove(credential string, now time.Time) error {
	if c.index(credential) < 0 {
		return ErrUnknownCredential
	}
	c.record(Removed{Subject: c.subject, Credential: credential, At: now})
	return nil
}

func (c *Credentials) note(a Activity) {
	c.activity = append(c.activity, a)
	if len(c.activity) > MaxActivity {
		c.activity = slices.Delete(c.activity, 0, len(c.activity)-MaxActivity)
	}
}

func (c *Credentials) apply(e Event) {
	switch e := e.(type) {
	case SignInSucceeded:
		c.note(Activity{Type: TypeSignInSucceeded, Credential: e.Credential, Detail: e.Purpose, At: e.At})
	case SignInFailed:
		c.note(Activity{Type: TypeSignInFailed, Credential: e.Credential, Detail: e.Reason, At: e.At})
	case CloneWarning:
		c.note(Activity{Type: TypeCloneWarning, Credential: e.Credential, At: e.At})
	}
	switch e := e.(type) {
	case Registered:
		c.creds = append(c.creds, Credential{ID: e.Credential, PublicKey: e.PublicKey, SignCount: e.SignCount, AAGUID: e.AAGUID,
			Name: e.Name, Transports: e.Transports, AttestationType: e.AttestationType, BackupEligible: e.BackupEligible,
			BackupState: e.BackupState, RegisteredAt: e.At})
		c.note(Activity{Type: TypeRegistered, Credential: e.Credential, Detail: e.Name, At: e.At})
	case Used:
		if i := c.index(e.Credential); i >= 0 {
			c.creds[i].SignCount, c.creds[i].LastUsed = e.SignCount, e.At
		}
	case Renamed:
		if i := c.index(e.Credential); i >= 0 {
			c.creds[i].Name = e.Name
		}
		c.note(Activity{Type: TypeRenamed, Credential: e.Credential, Detail: e.Name, At: e.At})
	case Removed:
		c.note(Activity{Type: TypeRemoved, Credential: e.Credential, At: e.At})
		if i := c.index(e.Credential); i >= 0 {
			c.creds = slices.Delete(c.creds, i, i+1)
		}
	}
}

var codec = event.NewCodec[Event]("passkey", event.Lenient(),
	event.Register[Registered](),
	event.Register[Used](),
	event.Register[Renamed](),
	event.Register[Removed](),
	event.Register[CloneWarning](),
	event.Register[SignInSucceeded](),
	event.Register[SignInFailed](),
	event.Register[EnrolmentIssued](),
	event.Register[EnrolmentRedeemed](),
)

// Decode turns a stored event into its newest shape; unknown types yield
// (nil, nil) so a stream may carry events a newer version added.
func Decode(typ string, data []byte) (Event, error) { return codec.Decode(typ, data) }

// Clone is a deep copy a caller may decide on.
func (c *Credentials) Clone() *Credentials {
	cp := &Credentials{subject: c.subject, version: c.version, activity: slices.Clone(c.activity), pending: slices.Clone(c.pending)}
	cp.creds = c.List()
	return cp
}

// Committed is the state once the pending events are appended: their
// effects kept, the version advanced past them, nothing pending.
func (c *Credentials) Committed() *Credentials {
	cp := c.Clone()
	cp.version += uint64(len(cp.pending))
	cp.pending = nil
	return cp
}
