package login

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authledger/authledger/api"
	"github.com/authledger/authledger/commands"
	"github.com/authledger/authledger/domain/passkey"
	"github.com/authledger/authledger/domain/session"
)

// SessionLister lists a subject's live sessions (queries.Sessions).
type SessionLister interface {
	List(ctx context.Context, subject string) ([]session.Record, error)
}

// ActivityFeed is the account page's "recent activity", newest first:
// LedgerActivity (the subject's passkey stream) by default, AuditActivity
// (the audit read model merged with it) when the service wires one.
type ActivityFeed interface {
	Recent(ctx context.Context, subject string) ([]ActivityItem, error)
}

// ActivityItem is one line of recent activity.
type ActivityItem struct {
	What   string
	Detail string
	At     time.Time
}

// LedgerActivity reads recent activity from the subject's passkey stream:
// the steps audit.v1 does not tell, and the whole page when the audit
// model is not wired.
type LedgerActivity struct {
	Manage *commands.ManagePasskeyHandler
}

// Recent implements ActivityFeed.
func (l LedgerActivity) Recent(ctx context.Context, subject string) ([]ActivityItem, error) {
	cs, err := l.Manage.Load(ctx, subject)
	if err != nil {
		return nil, err
	}
	names := map[string]string{
		passkey.TypeRegistered: "passkey added", passkey.TypeRenamed: "passkey renamed", passkey.TypeRemoved: "passkey removed",
		passkey.TypeSignInSucceeded: "signed in", passkey.TypeSignInFailed: "sign-in refused", passkey.TypeCloneWarning: "possible cloned passkey",
	}
	var out []ActivityItem
	for _, a := range cs.Activity() {
		what := names[a.Type]
		if a.Type == passkey.TypeSignInSucceeded && a.Detail == "step_up" {
			what = "confirmed with a passkey (step-up)"
		}
		out = append(out, ActivityItem{What: what, Detail: a.Detail, At: a.At})
	}
	return out, nil
}

type accountPasskey struct {
	ID, Name             string
	Registered, LastUsed string
}

type accountSession struct {
	ID, ACR, Created, LastSeen string
	Current                    bool
}

type accountPage struct {
	RP       string
	Subject  string
	Passkeys []accountPasskey
	Sessions []accountSession
	Activity []ActivityItem
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// account renders /account for the signed-in subject, or sends the
// browser to /login.
func (p *Passkeys) account(c echo.Context) error {
	ctx := c.Request().Context()
	rec, err := p.currentSession(c)
	if errors.Is(err, errSignInRequired) {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	if err != nil {
		return err
	}
	cs, err := p.cfg.Manage.Load(ctx, rec.Subject)
	if err != nil {
		return err
	}
	page := accountPage{RP: p.cfg.DisplayName, Subject: rec.Subject}
	for _, cr := range cs.List() {
		page.Passkeys = append(page.Passkeys, accountPasskey{ID: cr.ID, Name: cr.Name, Registered: stamp(cr.RegisteredAt), LastUsed: stamp(cr.LastUsed)})
	}
	sess, err := p.cfg.SessionList.List(ctx, rec.Subject)
	if err != nil {
		return err
	}
	for _, s := range sess {
		page.Sessions = append(page.Sessions, accountSession{ID: s.ID, ACR: s.ACR, Created: stamp(s.CreatedAt), LastSeen: stamp(s.LastSeen), Current: s.ID == rec.ID})
	}
	if page.Activity, err = p.cfg.Activity.Recent(ctx, rec.Subject); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, "account.html", page); err != nil {
		return err
	}
	return c.HTMLBlob(http.StatusOK, buf.Bytes())
}

type credentialRequest struct {
	Credential string `json:"credential"`
	Name       string `json:"name,omitempty"`
}

type sessionRequest struct {
	ID string `json:"id,omitempty"`
}

func (p *Passkeys) signedIn(c echo.Context, v any) (session.Record, error) {
	rec, err := p.currentSession(c)
	if err != nil {
		return rec, err
	}
	b, err := readBody(c)
	if err != nil {
		return rec, err
	}
	return rec, decodeStrict(b, v)
}

func (p *Passkeys) renamePasskey(c echo.Context) error {
	var req credentialRequest
	rec, err := p.signedIn(c, &req)
	if err != nil {
		return err
	}
	if err := p.cfg.Manage.Rename(c.Request().Context(), rec.Subject, req.Credential, req.Name, p.meta(c)); err != nil {
		return manageError(err)
	}
	return c.NoContent(http.StatusNoContent)
}

// removePasskey is sensitive: it needs step-up.
func (p *Passkeys) removePasskey(c echo.Context) error {
	var req credentialRequest
	rec, err := p.signedIn(c, &req)
	if err != nil {
		return err
	}
	if err := p.recent(c, rec); err != nil {
		return err
	}
	if err := p.cfg.Manage.Remove(c.Request().Context(), rec.Subject, req.Credential, p.meta(c)); err != nil {
		return manageError(err)
	}
	return c.NoContent(http.StatusNoContent)
}

func manageError(err error) error {
	switch {
	case errors.Is(err, passkey.ErrUnknownCredential):
		return api.NewProblem(http.StatusNotFound, "passkey-not-found", "Not Found", "no such passkey on this account")
	case errors.Is(err, passkey.ErrInvalid):
		return api.NewProblem(http.StatusBadRequest, "invalid-request", "Bad Request", "a name is 1-64 bytes")
	}
	return err
}

// endSession ends one of the subject's sessions. Ending the current one
// is signing out; ending another is sensitive and needs step-up.
func (p *Passkeys) endSession(c echo.Context) error {
	var req sessionRequest
	rec, err := p.signedIn(c, &req)
	if err != nil {
		return err
	}
	if req.ID != rec.ID {
		if err := p.recent(c, rec); err != nil {
			return err
		}
	}
	if err := p.cfg.End.Handle(c.Request().Context(), commands.EndSession{SessionID: req.ID, Subject: rec.Subject, Reason: "logout"}, p.meta(c)); err != nil {
		if errors.Is(err, session.ErrNotFound) || errors.Is(err, session.ErrEnded) {
			return api.NewProblem(http.StatusNotFound, "session-not-found", "Not Found", "no such session on this account")
		}
		return err
	}
	if req.ID == rec.ID {
		c.SetCookie(&http.Cookie{Name: api.SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	}
	return c.NoContent(http.StatusNoContent)
}

// endOtherSessions ends every session of the subject but this one (step-up).
func (p *Passkeys) endOtherSessions(c echo.Context) error {
	var req sessionRequest
	rec, err := p.signedIn(c, &req)
	if err != nil {
		return err
	}
	if err := p.recent(c, rec); err != nil {
		return err
	}
	ctx := c.Request().Context()
	all, err := p.cfg.SessionList.List(ctx, rec.Subject)
	if err != nil {
		return err
	}
	ended := 0
	for _, s := range all {
		if s.ID == rec.ID {
			continue
		}
		err := p.cfg.End.Handle(ctx, commands.EndSession{SessionID: s.ID, Subject: rec.Subject, Reason: "logout"}, p.meta(c))
		if err != nil && !errors.Is(err, session.ErrNotFound) && !errors.Is(err, session.ErrEnded) {
			return err
		}
		ended++
	}
	return c.JSON(http.StatusOK, map[string]int{"ended": ended})
}
