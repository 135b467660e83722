package commands

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/authledger/authledger/domain/client"
	"github.com/authledger/authledger/domain/passkey"
	"github.com/authledger/authledger/eventstore"
)

// The passkey use cases (docs/login.md). The WebAuthn ceremony is checked
// by the login package with go-webauthn; these handlers decide on what it
// verified, against the ledger: a removed passkey, a counter that went
// back, a spent enrolment link.

// LoginClientID is the client the login module acts as when it starts or
// elevates a session: it is a client of the token commands like any
// trusted login service.
const LoginClientID = "authledger-login"

// ACRUserVerified is the acr of a session started or raised by a passkey
// with user verification. AMRPasskey is its amr (RFC 8176: proof of a
// hardware-bound key, and a user-presence test).
const ACRUserVerified = "urn:authledger:acr:user-verified"

// AMRPasskey is the amr of a passkey sign-in (RFC 8176 §2).
var AMRPasskey = []string{"hwk", "user"}

// PasskeyRepository is the subject-credentials repository.
type PasskeyRepository = Repository[string, *passkey.Credentials, passkey.Event]

// EnrolmentRepository is the enrolment-link repository.
type EnrolmentRepository = Repository[string, *passkey.Enrolment, passkey.Event]

// Passkeys is the subject-credentials repository.
func Passkeys(store eventstore.Store) *PasskeyRepository {
	return NewRepository(store, passkey.Decode, passkey.Load)
}

// Enrolments is the enrolment-link repository.
func Enrolments(store eventstore.Store) *EnrolmentRepository {
	return NewRepository(store, passkey.Decode, passkey.LoadEnrolment)
}

// SessionStarter is the use case behind POST /v1/sessions.
type SessionStarter interface {
	Handle(ctx context.Context, cmd StartSession, meta Metadata) (StartedSession, error)
}

// SessionElevator is the use case behind POST /v1/sessions/{id}/elevate.
type SessionElevator interface {
	Handle(ctx context.Context, cmd ElevateSession, meta Metadata) (ElevatedSession, error)
}

// ErrInvalidSubject: a subject that is empty, too long, holds a newline or
// lies in the client-id namespace.
var ErrInvalidSubject = errors.New("commands: subject must be 1-255 printable characters outside the svc- namespace")

func checkSubject(s string) error {
	if s == "" || len(s) > 255 || strings.ContainsAny(s, "\r\n\t ") || client.InIDNamespace(s) {
		return ErrInvalidSubject
	}
	return nil
}

// EnrolmentLink is a minted link: ID and Secret go into the URL, and only
// the secret's SHA-256 into the ledger.
type EnrolmentLink struct {
	ID        string
	Secret    string
	Subject   string
	ExpiresAt time.Time
}

// Code is the link's query value: "<id>.<secret>".
func (l EnrolmentLink) Code() string { return l.ID + "." + l.Secret }

// SplitEnrolmentCode parses a link's code; ok is false when it has not the
// shape Code makes.
func SplitEnrolmentCode(code string) (id, secret string, ok bool) {
	id, secret, ok = strings.Cut(code, ".")
	if !ok || uuid.Validate(id) != nil || len(secret) != 43 {
		return "", "", false
	}
	return id, secret, true
}

// IssueEnrolmentHandler mints a one-time enrolment link for a subject's
// first passkey (authledger subjects enrol SUBJECT).
type IssueEnrolmentHandler struct {
	links *EnrolmentRepository
	now   func() time.Time
}

// NewIssueEnrolmentHandler builds the handler.
func NewIssueEnrolmentHandler(store eventstore.Store, now func() time.Time) *IssueEnrolmentHandler {
	return &IssueEnrolmentHandler{links: Enrolments(store), now: now}
}

// Handle records passkey.enrolment_issued.v1 and returns the link.
func (h *IssueEnrolmentHandler) Handle(ctx context.Context, subject string, meta Metadata) (EnrolmentLink, error) {
	if err := checkSubject(subject); err != nil {
		return EnrolmentLink{}, err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return EnrolmentLink{}, fmt.Errorf("enrolment: randomness: %w", err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return EnrolmentLink{}, err
	}
	secret := base64.RawURLEncoding.EncodeToString(b)
	now := h.now().UTC()
	e := passkey.LoadEnrolment(id.String(), nil)
	if err := e.Issue(subject, hashSecret(secret), now); err != nil {
		return EnrolmentLink{}, err
	}
	if _, err := AppendAll(ctx, h.links.Store(), meta, Changes(e)); err != nil {
		return EnrolmentLink{}, fmt.Errorf("issue enrolment: %w", err)
	}
	return EnrolmentLink{ID: id.String(), Secret: secret, Subject: subject, ExpiresAt: now.Add(passkey.EnrolmentLifetime)}, nil
}

func hashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// CheckEnrolment tells which subject a still-valid link enrols, without
// spending it (the first step of the registration ceremony).
func CheckEnrolment(ctx context.Context, links *EnrolmentRepository, code string, now time.Time) (string, error) {
	id, secret, ok := SplitEnrolmentCode(code)
	if !ok {
		return "", passkey.ErrEnrolmentInvalid
	}
	e, err := links.Load(ctx, id)
	if err != nil {
		return "", err
	}
	if err := e.Check(hashSecret(secret), now); err != nil {
		return "", err
	}
	return e.Subject(), nil
}

// RegisterPasskey adds a credential the ceremony verified. With
// EnrolmentCode it is a first passkey and spends the link in the same
// append; otherwise the caller proved a recent verified session (Via
// "session") or an upstream sign-in (Via "oidc").
type RegisterPasskey struct {
	Subject       string
	Credential    passkey.Registered
	EnrolmentCode string
}

// RegisterPasskeyHandler records passkey.registered.v1.
type RegisterPasskeyHandler struct {
	creds *PasskeyRepository
	links *EnrolmentRepository
	now   func() time.Time
}

// NewRegisterPasskeyHandler builds the handler.
func NewRegisterPasskeyHandler(creds *PasskeyRepository, links *EnrolmentRepository, now func() time.Time) *RegisterPasskeyHandler {
	return &RegisterPasskeyHandler{creds: creds, links: links, now: now}
}

// Handle registers the credential.
func (h *RegisterPasskeyHandler) Handle(ctx context.Context, cmd RegisterPasskey, meta Metadata) error {
	meta = meta.as(SubjectActor(cmd.Subject))
	now := h.now().UTC()
	reg := cmd.Credential
	reg.At = now
	var linkID, secret string
	if cmd.EnrolmentCode != "" {
		var ok bool
		if linkID, secret, ok = SplitEnrolmentCode(cmd.EnrolmentCode); !ok {
			return passkey.ErrEnrolmentInvalid
		}
		reg.Via, reg.Enrolment = "enrolment", linkID
	}
	_, err := h.creds.Update(ctx, cmd.Subject, meta, func(c *passkey.Credentials) ([]Changed, error) {
		var also []Changed
		if linkID != "" {
			e, err := h.links.Load(ctx, linkID)
			if err != nil {
				return nil, err
			}
			if e.Subject() != cmd.Subject {
				return nil, passkey.ErrEnrolmentInvalid
			}
			if err := e.Redeem(hashSecret(secret), reg.Credential, now); err != nil {
				return nil, err
			}
			also = append(also, Changes(e))
		}
		return also, c.Register(reg)
	})
	if err != nil {
		return fmt.Errorf("register passkey: %w", err)
	}
	return nil
}

// PasskeySignIn is an assertion the ceremony verified (signature, origin,
// RP id, user verification), for Subject's Credential with the counter it
// presented. With SessionID it is a step-up of that session.
type PasskeySignIn struct {
	Subject    string
	Credential string
	SignCount  uint32
	SessionID  string // step-up only
}

// PasskeySignInHandler decides the sign-in on the subject's credentials
// (removed, counter) and starts the session through the same command as
// POST /v1/sessions, or raises the session (step-up).
type PasskeySignInHandler struct {
	creds   *PasskeyRepository
	start   SessionStarter
	elevate SessionElevator
	now     func() time.Time
}

// NewPasskeySignInHandler builds the handler.
func NewPasskeySignInHandler(creds *PasskeyRepository, start SessionStarter, elevate SessionElevator, now func() time.Time) *PasskeySignInHandler {
	return &PasskeySignInHandler{creds: creds, start: start, elevate: elevate, now: now}
}

// PasskeySession is a started or raised session.
type PasskeySession struct {
	SessionID    string
	SessionToken string
	ExpiresAt    time.Time // zero on a step-up: the session keeps its expiry
}

// Handle records the outcome (passkey.used + signin_succeeded, or the
// clone warning and signin_failed) and, on success, starts or raises the
// session.
func (h *PasskeySignInHandler) Handle(ctx context.Context, cmd PasskeySignIn, meta Metadata) (PasskeySession, error) {
	meta = meta.as(SubjectActor(cmd.Subject))
	purpose := "sign_in"
	if cmd.SessionID != "" {
		purpose = "step_up"
	}
	var refused error
	_, err := h.creds.Update(ctx, cmd.Subject, meta, func(c *passkey.Credentials) ([]Changed, error) {
		// A refusal is an outcome to record, not a reason to append nothing.
		refused = c.SignIn(cmd.Credential, cmd.SignCount, purpose, ACRUserVerified, AMRPasskey, h.now().UTC())
		return nil, nil
	})
	if err != nil {
		return PasskeySession{}, fmt.Errorf("passkey sign-in: %w", err)
	}
	if refused != nil {
		return PasskeySession{}, refused
	}
	if cmd.SessionID != "" {
		out, err := h.elevate.Handle(ctx, ElevateSession{SessionID: cmd.SessionID, ClientID: LoginClientID, ACR: ACRUserVerified, AMR: slices.Clone(AMRPasskey)}, meta)
		if err != nil {
			return PasskeySession{}, err
		}
		return PasskeySession{SessionID: out.SessionID, SessionToken: out.SessionToken}, nil
	}
	out, err := h.start.Handle(ctx, StartSession{ClientID: LoginClientID, Subject: cmd.Subject, AMR: slices.Clone(AMRPasskey), ACR: ACRUserVerified}, meta)
	if err != nil {
		return PasskeySession{}, err
	}
	return PasskeySession{SessionID: out.SessionID, SessionToken: out.SessionToken, ExpiresAt: out.ExpiresAt}, nil
}

// RecordSignInFailure records a sign-in the ceremony refused before any
// credential decision: under the subject when it is known, in the shared
// failures stream otherwise.
type RecordSignInFailureHandler struct {
	creds *PasskeyRepository
	now   func() time.Time
}

// NewRecordSignInFailureHandler builds the handler.
func NewRecordSignInFailureHandler(creds *PasskeyRepository, now func() time.Time) *RecordSignInFailureHandler {
	return &RecordSignInFailureHandler{creds: creds, now: now}
}

// Handle appends passkey.signin_failed.v1. A subject that is not a valid
// one (a garbled user handle) is recorded as unknown.
func (h *RecordSignInFailureHandler) Handle(ctx context.Context, subject, credential, reason string, meta Metadata) error {
	now := h.now().UTC()
	if subject == "" || checkSubject(subject) != nil {
		meta = meta.as("anonymous")
		if len(credential) > 1366 { // a credential id is at most 1023 bytes
			credential = ""
		}
		_, err := AppendAll(ctx, h.creds.Store(), meta, Record(passkey.FailuresStream, passkey.SignInFailed{Credential: credential, Reason: reason, At: now}))
		return err
	}
	_, err := h.creds.Update(ctx, subject, meta.as(SubjectActor(subject)), func(c *passkey.Credentials) ([]Changed, error) {
		c.Fail(credential, reason, now)
		return nil, nil
	})
	return err
}

// ManagePasskeyHandler renames and removes a subject's passkeys.
type ManagePasskeyHandler struct {
	creds *PasskeyRepository
	cache *PasskeyCache
	now   func() time.Time
}

// NewManagePasskeyHandler builds the handler; cache (may be nil) is the
// one creds uses, read by Cached.
func NewManagePasskeyHandler(creds *PasskeyRepository, cache *PasskeyCache, now func() time.Time) *ManagePasskeyHandler {
	return &ManagePasskeyHandler{creds: creds, cache: cache, now: now}
}

// Rename records passkey.renamed.v1.
func (h *ManagePasskeyHandler) Rename(ctx context.Context, subject, credential, name string, meta Metadata) error {
	_, err := h.creds.Update(ctx, subject, meta.as(SubjectActor(subject)), func(c *passkey.Credentials) ([]Changed, error) {
		return nil, c.Rename(credential, name, h.now().UTC())
	})
	return err
}

// Remove records passkey.removed.v1. The caller checked step-up.
func (h *ManagePasskeyHandler) Remove(ctx context.Context, subject, credential string, meta Metadata) error {
	_, err := h.creds.Update(ctx, subject, meta.as(SubjectActor(subject)), func(c *passkey.Credentials) ([]Changed, error) {
		return nil, c.Remove(credential, h.now().UTC())
	})
	return err
}

// Load returns subject's credentials as the ledger holds them now.
func (h *ManagePasskeyHandler) Load(ctx context.Context, subject string) (*passkey.Credentials, error) {
	return h.creds.Load(ctx, subject)
}

// Cached returns subject's credentials as this instance last committed
// them, or the ledger's when it holds none. It may be stale (another
// instance registered a passkey): callers that find nothing must Load.
func (h *ManagePasskeyHandler) Cached(ctx context.Context, subject string) (*passkey.Credentials, error) {
	if h.cache != nil {
		if cs, ok := h.cache.Get(subject); ok {
			return cs, nil
		}
	}
	return h.creds.Load(ctx, subject)
}

// PasskeyCommands are the passkey use cases wired on one repository and
// cache.
type PasskeyCommands struct {
	Register *RegisterPasskeyHandler
	SignIn   *PasskeySignInHandler
	Failures *RecordSignInFailureHandler
	Manage   *ManagePasskeyHandler
	Links    *EnrolmentRepository
	Enrol    *IssueEnrolmentHandler
}

// NewPasskeyCommands wires them; start and elevate are the session use
// cases of POST /v1/sessions and its step-up.
func NewPasskeyCommands(store eventstore.Store, start SessionStarter, elevate SessionElevator, now func() time.Time) PasskeyCommands {
	cache := &PasskeyCache{}
	creds, links := Passkeys(store).WithCache(cache), Enrolments(store)
	return PasskeyCommands{
		Register: NewRegisterPasskeyHandler(creds, links, now),
		SignIn:   NewPasskeySignInHandler(creds, start, elevate, now),
		Failures: NewRecordSignInFailureHandler(creds, now),
		Manage:   NewManagePasskeyHandler(creds, cache, now),
		Links:    links,
		Enrol:    NewIssueEnrolmentHandler(store, now),
	}
}
